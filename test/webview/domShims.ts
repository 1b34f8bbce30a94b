/**
 * jsdom's `ElementInternals` has ARIA reflection but none of the form-associated members (`setFormValue`,
 * `setValidity`, …) that the form-associated vscode-elements call. Tests submit no forms, so filling the gaps
 * with inert stand-ins is enough. Test-only: real webviews (Chromium) have the complete API.
 */
export function installDomShims(): void {
  const proto = HTMLElement.prototype as HTMLElement & { __prismShimmed?: boolean };
  if (proto.__prismShimmed) return;
  proto.__prismShimmed = true;
  // Tests load Lit's development build, which warns once per process about dev mode and about the
  // components' own update scheduling; neither is about our code. Lit skips codes already in this set.
  const lit = globalThis as { litIssuedWarnings?: Set<string> };
  lit.litIssuedWarnings ??= new Set();
  lit.litIssuedWarnings.add("dev-mode").add("change-in-update");
  // jsdom has no layout, so no `innerText`; vscode-single-select reads its options' labels through it.
  if (!("innerText" in proto)) {
    Object.defineProperty(proto, "innerText", {
      get(this: HTMLElement) {
        return this.textContent ?? "";
      },
      set(this: HTMLElement, value: string) {
        this.textContent = value;
      },
      configurable: true,
    });
  }
  // jsdom logs "Not implemented" for canvas; without a context the chart shows only its data table.
  HTMLCanvasElement.prototype.getContext = (() => null) as typeof HTMLCanvasElement.prototype.getContext;
  // jsdom has no requestAnimationFrame unless pretendToBeVisual is set.
  globalThis.requestAnimationFrame ??= (callback: FrameRequestCallback) =>
    setTimeout(() => callback(performance.now()), 0) as unknown as number;
  // vscode-scrollable (inside the select's dropdown) observes its size.
  if (typeof globalThis.ResizeObserver !== "function") {
    globalThis.ResizeObserver = class {
      observe(): void {}
      unobserve(): void {}
      disconnect(): void {}
    };
  }
  const original = proto.attachInternals as (() => ElementInternals) | undefined;
  proto.attachInternals = function attachInternals(this: HTMLElement): ElementInternals {
    const internals = (original ? original.call(this) : {}) as Record<string, unknown>;
    let valid = true;
    let message = "";
    const fill = (name: string, value: unknown): void => {
      if (!(name in internals)) Object.defineProperty(internals, name, { value, configurable: true });
    };
    const getter = (name: string, get: () => unknown): void => {
      if (!(name in internals)) Object.defineProperty(internals, name, { get, configurable: true });
    };
    fill("form", null);
    fill("labels", []);
    fill("states", new Set<string>());
    fill("willValidate", false);
    fill("setFormValue", () => {});
    fill("setValidity", (flags?: ValidityStateFlags, msg?: string) => {
      valid = !flags || !Object.values(flags).some(Boolean);
      message = msg ?? "";
    });
    fill("checkValidity", () => valid);
    fill("reportValidity", () => valid);
    getter("validity", () => ({ valid }) as ValidityState);
    getter("validationMessage", () => message);
    return internals as unknown as ElementInternals;
  };
}
