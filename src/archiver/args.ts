/**
 * torch-model-archiver's command line (spec §7.4, `model_archiver/arg_parser.py`), parsed with
 * commander but failing the way argparse does: usage line, `<prog>: error: …`, exit 2.
 */
import { Command, CommanderError } from 'commander';
import { UsageError } from './errors.js';

export const ARCHIVE_FORMATS = ['tgz', 'no-archive', 'zip-store', 'default'] as const;
export type ArchiveFormat = (typeof ARCHIVE_FORMATS)[number];

export const RUNTIMES = ['python', 'python3', 'LSP'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface ArchiverOptions {
  modelName: string;
  version: string;
  handler: string;
  serializedFile?: string;
  modelFile?: string;
  extraFiles?: string;
  runtime: Runtime;
  exportPath: string;
  /** True when `--export-path` was not given (the current directory is used). */
  archiveFormat: ArchiveFormat;
  force: boolean;
  requirementsFile?: string;
  configFile?: string;
  convert: boolean;
}

interface RawOptions {
  modelName?: string;
  serializedFile?: string;
  modelFile?: string;
  handler?: string;
  extraFiles?: string;
  runtime?: string;
  exportPath?: string;
  archiveFormat?: string;
  force?: boolean;
  version?: string;
  requirementsFile?: string;
  configFile?: string;
  convert?: boolean;
}

const HELP_TEXT = {
  modelName:
    'Exported model name. Exported file will be named as\n' +
    'model-name.mar and saved in current working directory if no --export-path is\n' +
    'specified, else it will be saved under the export path',
  serializedFile: 'Path to the .onnx model file (the model onnxserve serves).',
  modelFile:
    'Path to a python file containing the model architecture (accepted for\n' +
    'torch-model-archiver compatibility: copied and recorded, not used by onnxserve).',
  handler:
    "A built-in handler name (see below) or the path to a JavaScript handler module\n" +
    '(handler.mjs, handler.js, or handler.mjs:functionName).',
  extraFiles: 'Comma separated path to extra dependency files (globs and directories allowed).',
  runtime: 'The runtime recorded in the manifest. The default runtime is "python".\n(onnxserve runs every model in Node.js.)',
  exportPath:
    'Path where the exported .mar file will be saved. This is an optional\n' +
    'parameter. If --export-path is not specified, the file will be saved in the\n' +
    'current working directory. ',
  archiveFormat:
    'The format in which the model artifacts are archived.\n' +
    '"tgz": <model-name>.tar.gz, every entry under <model-name>/\n' +
    '"no-archive": the folder export-path/<model-name>/ with MAR-INF/MANIFEST.json\n' +
    '"zip-store": <model-name>.mar without compression (fast)\n' +
    '"default": <model-name>.mar (deflated zip)',
  force:
    'When the -f or --force flag is specified, an existing .mar file with same\n' +
    'name as that provided in --model-name in the path specified by --export-path\n' +
    'will overwritten',
  version: "Model's version",
  requirementsFile: 'Path to a requirements.txt (copied and recorded; onnxserve installs no Python packages).',
  configFile: 'Path to a yaml file containing model configuration eg. batch_size.',
  convert:
    'onnxserve addition: check that --serialized-file is ONNX. Converting other formats\n' +
    '(.pt/.pth/TorchScript) is not supported: export with torch.onnx.export first.',
};

const USAGE =
  '[-h] --model-name MODEL_NAME [--serialized-file SERIALIZED_FILE] [--model-file MODEL_FILE] ' +
  '--handler HANDLER [--extra-files EXTRA_FILES] [--runtime {python,python3,LSP}] ' +
  '[--export-path EXPORT_PATH] [--archive-format {tgz,no-archive,zip-store,default}] [-f] ' +
  '-v VERSION [-r REQUIREMENTS_FILE] [-c CONFIG_FILE] [--convert]';

export function usageLine(prog: string): string {
  return `usage: ${prog} ${USAGE}`;
}

export function buildProgram(prog: string, handlerNames: readonly string[] = []): Command {
  const program = new Command(prog)
    .description('Torch Model Archiver Tool (onnxserve edition: packages ONNX models)')
    .helpOption('-h, --help', 'show this help message and exit')
    .option('--model-name <MODEL_NAME>', HELP_TEXT.modelName)
    .option('--serialized-file <SERIALIZED_FILE>', HELP_TEXT.serializedFile)
    .option('--model-file <MODEL_FILE>', HELP_TEXT.modelFile)
    .option('--handler <HANDLER>', HELP_TEXT.handler)
    .option('--extra-files <EXTRA_FILES>', HELP_TEXT.extraFiles)
    .option('--runtime <RUNTIME>', `${HELP_TEXT.runtime}\nchoices: ${RUNTIMES.join(', ')}`)
    .option('--export-path <EXPORT_PATH>', HELP_TEXT.exportPath)
    .option('--archive-format <ARCHIVE_FORMAT>', `${HELP_TEXT.archiveFormat}\nchoices: ${ARCHIVE_FORMATS.join(', ')}`)
    .option('-f, --force', HELP_TEXT.force)
    .option('-v, --version <VERSION>', HELP_TEXT.version)
    .option('-r, --requirements-file <REQUIREMENTS_FILE>', HELP_TEXT.requirementsFile)
    .option('-c, --config-file <CONFIG_FILE>', HELP_TEXT.configFile)
    .option('--convert', HELP_TEXT.convert)
    .allowExcessArguments(false);
  if (handlerNames.length > 0) {
    program.addHelpText('after', `\nBuilt-in handler names: ${handlerNames.join(', ')}\n`);
  }
  return program;
}

/** argparse's name for an option in messages: `-v/--version`, `--model-name`. */
function argparseName(flags: string): string {
  return flags
    .replace(/\s*[<[].*$/, '')
    .split(/[,|\s]+/)
    .filter((f) => f.startsWith('-'))
    .join('/');
}

/** Rewrites commander's parse errors as argparse's messages. */
function argparseMessage(err: CommanderError): string {
  const quoted = /'([^']*)'/.exec(err.message)?.[1] ?? '';
  switch (err.code) {
    case 'commander.unknownOption':
    case 'commander.excessArguments':
    case 'commander.unknownCommand':
      return `unrecognized arguments: ${quoted || err.message.replace(/^error:\s*/, '')}`;
    case 'commander.optionMissingArgument':
      return `argument ${argparseName(quoted)}: expected one argument`;
    default:
      return err.message.replace(/^error:\s*/, '');
  }
}

/**
 * argparse accepts any unambiguous prefix of a long option (`--export` for `--export-path`);
 * commander does not, so prefixes are expanded first. Tokens after `--` are left alone.
 */
export function expandAbbreviations(argv: string[], longOptions: readonly string[]): string[] {
  const out: string[] = [];
  let rest = false;
  for (const token of argv) {
    if (rest || !token.startsWith('--') || token === '--') {
      if (token === '--') rest = true;
      out.push(token);
      continue;
    }
    const eq = token.indexOf('=');
    const flag = eq === -1 ? token : token.slice(0, eq);
    if (longOptions.includes(flag)) {
      out.push(token);
      continue;
    }
    const matches = longOptions.filter((o) => o.startsWith(flag));
    if (matches.length > 1) throw new UsageError(`ambiguous option: ${flag} could match ${matches.join(', ')}`);
    const only = matches[0];
    out.push(only === undefined ? token : `${only}${eq === -1 ? '' : token.slice(eq)}`);
  }
  return out;
}

function checkChoice<T extends string>(flag: string, value: string, choices: readonly T[]): T {
  if ((choices as readonly string[]).includes(value)) return value as T;
  const list = choices.map((c) => `'${c}'`).join(', ');
  throw new UsageError(`argument ${flag}: invalid choice: '${value}' (choose from ${list})`);
}

/**
 * Parses argv (without node and script). Returns 'help' after printing help; throws UsageError
 * with argparse's message otherwise.
 */
export function parseArchiverArgs(
  argv: string[],
  prog: string,
  write: (s: string) => void,
  cwd: string,
  handlerNames: readonly string[] = [],
): ArchiverOptions | 'help' {
  const program = buildProgram(prog, handlerNames)
    .exitOverride()
    .configureOutput({ writeOut: write, writeErr: () => {} });
  const longOptions = program.options.map((o) => o.long).filter((l): l is string => l !== undefined);
  try {
    program.parse(expandAbbreviations(argv, [...longOptions, '--help']), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help') return 'help';
      throw new UsageError(argparseMessage(err));
    }
    throw err;
  }
  const o = program.opts<RawOptions>();

  // argparse lists every missing required argument at once, in definition order.
  const missing: string[] = [];
  if (o.modelName === undefined) missing.push('--model-name');
  if (o.handler === undefined) missing.push('--handler');
  if (o.version === undefined) missing.push('-v/--version');
  if (missing.length > 0) throw new UsageError(`the following arguments are required: ${missing.join(', ')}`);

  const runtime = checkChoice('--runtime', o.runtime ?? 'python', RUNTIMES);
  const archiveFormat = checkChoice('--archive-format', o.archiveFormat ?? 'default', ARCHIVE_FORMATS);

  return {
    modelName: o.modelName ?? '',
    version: o.version ?? '',
    handler: o.handler ?? '',
    serializedFile: o.serializedFile,
    modelFile: o.modelFile,
    extraFiles: o.extraFiles,
    runtime,
    exportPath: o.exportPath ?? cwd,
    archiveFormat,
    force: o.force === true,
    requirementsFile: o.requirementsFile,
    configFile: o.configFile,
    convert: o.convert === true,
  };
}
