/** The torchserve-compatible command line (spec §1.1), parsed with commander. */
import { Command, CommanderError, Option } from 'commander';
import type { CliOptions } from '../config/index.js';

export type CliAction = 'start' | 'stop' | 'version';

export interface ParsedArgs {
  action: CliAction;
  options: CliOptions;
  /** Set in the detached child a daemon start spawns. */
  daemonChild: boolean;
}

export class UsageError extends Error {}

interface RawOptions {
  version?: boolean;
  start?: boolean;
  stop?: boolean;
  foreground?: boolean;
  tsConfig?: string;
  modelControlMode?: string;
  modelStore?: string;
  workflowStore?: string;
  models?: string[];
  logConfig?: string;
  cppLogConfig?: string;
  ncs?: boolean;
  configSnapshots?: boolean;
  pluginsPath?: string;
  ppath?: string;
  disableTokenAuth?: boolean;
  dt?: boolean;
  enableModelApi?: boolean;
  daemonChild?: boolean;
}

export function buildProgram(name: string): Command {
  return new Command(name)
    .description('Torchserve-compatible model server for ONNX models')
    .helpOption('-h, --help', 'show this help message and exit')
    .option('-v, --version', 'Return TorchServe Version')
    .option('--start', 'Start the model-server')
    .option('--stop', 'Stop the model-server')
    .option('--ts-config <TS_CONFIG>', 'Configuration file for model server')
    .option('--model-store <MODEL_STORE>', 'Model store location from where local or default models can be loaded')
    .option('--workflow-store <WORKFLOW_STORE>', 'Workflow store location (accepted; workflows are not supported)')
    .option('--models <MODEL_PATH...>', 'Models to be loaded using [model_name=]model_location format, or "all"')
    .option('--log-config <LOG_CONFIG>', 'Logging config, JSON or YAML (see README "Logging"); log4j2 XML is refused')
    .option('--cpp-log-config <CPP_LOG_CONFIG>', 'accepted for compatibility; ignored')
    .option('--foreground', 'Run the model server in foreground')
    .option('--ncs', 'Prevents to server from storing config snapshot files')
    .option('--no-config-snapshots', 'Prevents to server from storing config snapshot files')
    .option('--plugins-path <PLUGINS_PATH>', 'accepted for compatibility; ignored')
    .option('--ppath <PLUGINS_PATH>', 'accepted for compatibility; ignored')
    .option('--disable-token-auth', 'Disable token authorization')
    .option('--dt', 'Disable token authorization')
    .option('--enable-model-api', 'Enable model registration/deletion APIs')
    .option('--model-control-mode <MODE>', 'none | explicit | poll (see README "Model control modes")')
    .addOption(new Option('--daemon-child').hideHelp())
    .allowExcessArguments(false);
}

/** Parses argv (without node and script); throws UsageError (exit 2, as argparse) on misuse. */
export function parseArgs(argv: string[], name: string, write: (s: string) => void): ParsedArgs | 'help' {
  const program = buildProgram(name)
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: write });
  try {
    program.parse(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.help')) return 'help';
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const o = program.opts<RawOptions>();
  const chosen = (['version', 'start', 'stop'] as const).filter((k) => o[k]);
  if (chosen.length > 1) throw new UsageError(`error: argument --${chosen[1]}: not allowed with argument --${chosen[0]}`);
  return {
    action: o.version ? 'version' : o.stop ? 'stop' : 'start',
    daemonChild: o.daemonChild === true,
    options: {
      tsConfig: o.tsConfig,
      modelStore: o.modelStore,
      models: o.models,
      ncs: o.ncs === true || o.configSnapshots === false,
      enableModelApi: o.enableModelApi === true,
      ...(typeof o.modelControlMode === 'string' ? { modelControlMode: o.modelControlMode } : {}),
      disableTokenAuth: o.disableTokenAuth === true || o.dt === true,
      logConfig: o.logConfig,
      foreground: o.foreground === true,
    },
  };
}
