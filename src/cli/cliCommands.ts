import { chatCommand } from "./commands/chatCommand.js";
import { distillCommand } from "./commands/distillCommand.js";
import { evalCommand } from "./commands/evalCommand.js";
import { exportCommand } from "./commands/exportCommand.js";
import { gateEvalCommand } from "./commands/gateEvalCommand.js";
import { importCommand } from "./commands/importCommand.js";
import { infoCommand } from "./commands/infoCommand.js";
import { makeModelCommand } from "./commands/makeModelCommand.js";
import { routeCommand } from "./commands/routeCommand.js";
import { serveCommand } from "./commands/serveCommand.js";
import { trainCommand } from "./commands/trainCommand.js";
import { worldBuildCommand } from "./commands/worldBuildCommand.js";
import { worldDistillCommand } from "./commands/worldDistillCommand.js";
import type { CliCommand } from "./options/cliCommand.js";

/**
 * Every command of `prism`, in the order `prism --help` lists them. A name of two words (`world build`) is a
 * subcommand: `prism world` alone lists its group.
 */
export const CLI_COMMANDS: readonly CliCommand[] = [
  makeModelCommand,
  infoCommand,
  chatCommand,
  distillCommand,
  routeCommand,
  serveCommand,
  gateEvalCommand,
  trainCommand,
  worldBuildCommand,
  worldDistillCommand,
  evalCommand,
  exportCommand,
  importCommand,
];
