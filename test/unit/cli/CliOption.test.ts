import { describe, expect, it } from "vitest";
import {
  choiceOption,
  customOption,
  flagOption,
  intOption,
  listOption,
  numberOption,
  stringOption,
} from "../../../src/cli/options/CliOption.js";

const usage = (message: string) => expect.objectContaining({ code: "cli/usage", message });

describe("CLI option types", () => {
  it("intOption accepts integers in range and refuses anything loose, naming the flag and value", () => {
    const o = intOption({ description: "threads", min: 1, max: 1024 });
    expect(o.parse("4", "threads")).toBe(4);
    expect(o.parse(" 1024 ", "threads")).toBe(1024);
    for (const bad of ["4x", "1.5", "1e3", "", "0", "1025", "-2", "0x10"]) {
      expect(() => o.parse(bad, "threads")).toThrow(
        usage(`--threads must be an integer from 1 to 1024, got "${bad}".`),
      );
    }
    expect(o.parse(undefined, "threads")).toBeUndefined();
    expect(intOption({ description: "first block", min: -1 }).parse("-1", "gpu-layers")).toBe(-1);
  });

  it("numberOption accepts finite numbers in range, exponents included", () => {
    const o = numberOption({ description: "lr", min: 1e-8, max: 1 });
    expect(o.parse("2e-4", "lr")).toBe(2e-4);
    expect(o.parse("1", "lr")).toBe(1);
    for (const bad of ["0", "2", "0.5x", " ", "NaN", "Infinity"]) {
      expect(() => o.parse(bad, "lr")).toThrow(usage(`--lr must be a number from 1e-8 to 1, got "${bad}".`));
    }
  });

  it("choiceOption accepts exactly its words and lists them when refusing", () => {
    const o = choiceOption({ description: "mode", choices: ["hard", "soft"] as const, default: "hard" });
    expect(o.parse("soft", "mode")).toBe("soft");
    expect(o.parse(undefined, "mode")).toBe("hard");
    expect(() => o.parse("Hard", "mode")).toThrow(usage('--mode must be one of hard, soft, got "Hard".'));
    expect(o.valueName).toBe("hard|soft");
  });

  it("listOption splits on commas, trims, drops empty items and checks choices", () => {
    expect(listOption({ description: "ids" }).parse(" math, writing,,", "persona-ids")).toEqual(["math", "writing"]);
    expect(() => listOption({ description: "ids" }).parse(" , ", "persona-ids")).toThrow(
      usage('--persona-ids needs at least one item, got " , ".'),
    );
    const targets = listOption({ description: "targets", choices: ["attn_q", "attn_k"] as const });
    expect(targets.parse("attn_k,attn_q", "targets")).toEqual(["attn_k", "attn_q"]);
    expect(() => targets.parse("attn_q,ffn_x,qq", "targets")).toThrow(
      usage("--targets: unknown item(s) ffn_x, qq; each must be one of attn_q, attn_k."),
    );
  });

  it("customOption converts with its own syntax and states it when refusing", () => {
    const o = customOption({
      description: "pair",
      convert: (text) => (/^\d+:\d+$/.test(text) ? text.split(":").map(Number) : undefined),
      error: "must be N:M.",
    });
    expect(o.parse("3:4", "pair")).toEqual([3, 4]);
    expect(() => o.parse("3", "pair")).toThrow(usage("--pair must be N:M."));
  });

  it("stringOption and flagOption pass values through", () => {
    expect(stringOption({ description: "system" }).parse("-", "system")).toBe("-");
    expect(stringOption({ description: "system" }).parse(undefined, "system")).toBeUndefined();
    const flag = flagOption("json");
    expect([flag.parse(true, "json"), flag.parse(undefined, "json")]).toEqual([true, false]);
    expect(flag.type).toBe("boolean");
    expect(stringOption({ description: "model", required: true }).required).toBe(true);
  });

  it("applies defaults: plain values (shown in help), computed ones (shown as their text), or none", () => {
    const plain = intOption({ description: "tokens", min: 1, default: 256 });
    expect(plain.parse(undefined, "max-tokens")).toBe(256);
    expect(plain.defaultText).toBe("256");
    let calls = 0;
    const computed = intOption({
      description: "threads",
      min: 1,
      default: () => ++calls + 10,
      defaultText: "the physical cores",
    });
    expect(computed.defaultText).toBe("the physical cores");
    expect(calls).toBe(0);
    expect(computed.parse(undefined, "threads")).toBe(11);
    expect(computed.parse("3", "threads")).toBe(3);
    expect(calls).toBe(1);
    const elsewhere = intOption({ description: "epochs", min: 1, defaultText: "10" });
    expect(elsewhere.parse(undefined, "epochs")).toBeUndefined();
    expect(elsewhere.defaultText).toBe("10");
    expect(intOption({ description: "seed", min: 0 }).defaultText).toBeUndefined();
  });
});
