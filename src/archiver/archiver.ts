/**
 * One archiver run, in torch-model-archiver's order (name, export path, existing output, files)
 * with onnxserve's checks added before anything is written: the ONNX model loads, the handler
 * can run on the server, model-config.yaml parses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isValidModelName } from '../archive/index.js';
import type { ArchiveFormat, ArchiverOptions } from './args.js';
import { ArchiverError } from './errors.js';
import { collectInputs, type ArchiveEntry } from './inputs.js';
import { buildTime, manifestText } from './manifest.js';
import { createProgress } from './progress.js';
import { checkHandlerModule, checkModelConfig, checkOnnx, knownHandlerNames, resolveHandler } from './validate.js';
import { writeFolder, writeTarGz, writeZip } from './writers.js';

export interface ArchiverIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** A line of normal output (stdout). */
  out(line: string): void;
  /** A line for stderr (warnings, notes). */
  err(line: string): void;
  /** Raw stderr text, for progress. */
  errRaw(text: string): void;
  errIsTTY: boolean;
}

export const EXTENSIONS: Record<ArchiveFormat, string> = { tgz: '.tar.gz', 'no-archive': '', 'zip-store': '.mar', default: '.mar' };

export const BAD_NAME_MESSAGE =
  'Model name contains special characters.\n' +
  'The allowed regular expression filter for model name is: ^[A-Za-z0-9][A-Za-z0-9_\\-.]*$';

/** Python's os.path.join for two parts (no normalisation), so messages show paths as TorchServe does. */
const pyJoin = (a: string, b: string): string => (a === '' || a.endsWith('/') ? `${a}${b}` : `${a}/${b}`);

export const alreadyExistsMessage = (file: string): string =>
  `${file} already exists.\n` +
  'Please specify --force/-f option to overwrite the model archive output file.\n' +
  'See -h/--help for more details.';

const PYTORCH_EXPORT_HINT =
  'Export it to ONNX first (for PyTorch: torch.onnx.export(model, example_input, "model.onnx")) and pass the .onnx file';

/** Picks and checks the ONNX model: `--serialized-file`, else the only .onnx among the extra files. */
async function checkModel(opts: ArchiverOptions, entries: ArchiveEntry[], io: ArchiverIo): Promise<void> {
  let file: string;
  let shown: string;
  if (opts.serializedFile) {
    shown = opts.serializedFile;
    file = path.resolve(io.cwd, shown);
    if (!/\.onnx$/i.test(shown)) {
      if (opts.convert) {
        throw new ArchiverError(
          `--convert: converting ${shown} to ONNX is not supported; onnxserve-archiver does not run PyTorch or other frameworks. ${PYTORCH_EXPORT_HINT}.`,
        );
      }
      throw new ArchiverError(`${shown} is not an ONNX model (.onnx): onnxserve serves ONNX models only. ${PYTORCH_EXPORT_HINT}.`);
    }
  } else {
    const onnx = entries.filter((e) => !e.name.includes('/') && /\.onnx$/i.test(e.name));
    if (onnx.length !== 1) {
      throw new ArchiverError(
        onnx.length === 0
          ? 'No ONNX model given: pass --serialized-file model.onnx (onnxserve serves ONNX models only)'
          : `Several .onnx files among --extra-files (${onnx.map((e) => e.name).join(', ')}): pass the model to serve with --serialized-file`,
      );
    }
    const only = onnx[0] as ArchiveEntry;
    file = only.source;
    shown = only.name;
    io.err(`WARNING - No --serialized-file: the server will load ${only.name}, the only .onnx file in the archive`);
  }
  const summary = await checkOnnx(file, shown);
  if (opts.convert) io.err(`NOTE - --convert: ${shown} is already an ONNX model; nothing to convert`);
  io.out(`ONNX model ${path.basename(file)} loads in onnxruntime:`);
  for (const i of summary.inputs) io.out(`  input  ${i}`);
  for (const o of summary.outputs) io.out(`  output ${o}`);
}

/** Runs the archiver; throws ArchiverError/MissingFileError on failure. Returns the output path. */
export async function runArchiver(opts: ArchiverOptions, io: ArchiverIo): Promise<string> {
  const time = buildTime(io.env);

  // TorchServe's validate_inputs + check_mar_already_exists.
  if (!isValidModelName(opts.modelName)) throw new ArchiverError(BAD_NAME_MESSAGE);
  const exportDir = path.resolve(io.cwd, opts.exportPath);
  const exportStat = fs.statSync(exportDir, { throwIfNoEntry: false });
  if (exportStat && !exportStat.isDirectory()) {
    throw new ArchiverError(`Given export-path ${opts.exportPath} is not a directory. Point to a valid export-path directory.`);
  }
  const outputName = `${opts.modelName}${EXTENSIONS[opts.archiveFormat]}`;
  const target = path.join(exportDir, outputName);
  const shownTarget = pyJoin(opts.exportPath, outputName);
  const exists = fs.lstatSync(target, { throwIfNoEntry: false }) !== undefined;
  if (exists && !opts.force) throw new ArchiverError(alreadyExistsMessage(shownTarget));

  // The handler: a name the server knows, or a JavaScript module to copy and check.
  const names = await knownHandlerNames();
  const handler = resolveHandler(opts.handler, names, io.cwd);

  const inputs = collectInputs(
    {
      modelFile: opts.modelFile,
      serializedFile: opts.serializedFile,
      handlerFile: handler.kind === 'module' ? handler.given : undefined,
      extraFiles: opts.extraFiles,
      requirementsFile: opts.requirementsFile,
      configFile: opts.configFile,
    },
    io.cwd,
  );
  for (const w of inputs.warnings) io.err(`WARNING - ${w}`);

  await checkModel(opts, inputs.entries, io);

  if (handler.kind === 'module') {
    const steps = await checkHandlerModule(handler);
    const base = path.basename(handler.file);
    io.out(
      handler.functionName
        ? `Handler module ${base}: function ${handler.functionName}`
        : `Handler module ${base} exports ${steps.join(', ')}`,
    );
  } else {
    io.out(`Handler: ${handler.name === '' ? 'the default ONNX handler' : `built-in "${handler.name}"`}`);
  }

  if (opts.configFile) {
    for (const w of checkModelConfig(path.resolve(io.cwd, opts.configFile), opts.configFile)) {
      io.err(`WARNING - ${opts.configFile}: ${w}`);
    }
  }
  if (opts.modelFile) {
    io.err(`NOTE - --model-file ${opts.modelFile} is copied and recorded for torch-model-archiver compatibility; onnxserve does not use it (the ONNX graph is the model)`);
  }
  if (opts.requirementsFile) {
    io.err(`NOTE - --requirements-file ${opts.requirementsFile} is copied and recorded; onnxserve installs no Python packages`);
  }
  if (opts.runtime === 'LSP') {
    io.err('NOTE - --runtime LSP is recorded in the manifest; onnxserve runs every handler in Node.js');
  }

  // Everything checked: now write.
  if (!exportStat) {
    io.err(`WARNING - Export path ${opts.exportPath} does not exist; creating it`);
    fs.mkdirSync(exportDir, { recursive: true });
  }
  if (exists) io.err(`WARNING - Overwriting ${shownTarget} ...`);

  const manifest = manifestText(
    {
      modelName: opts.modelName,
      version: opts.version,
      handler: opts.handler,
      runtime: opts.runtime,
      serializedFile: opts.serializedFile,
      modelFile: opts.modelFile,
      requirementsFile: opts.requirementsFile,
      configFile: opts.configFile,
    },
    time.date,
  );
  const progress = createProgress(`Writing ${outputName}`, inputs.totalBytes, { write: io.errRaw, isTTY: io.errIsTTY });
  const writeOpts = { fixedTime: time.fixed ? time.date : undefined, now: time.date, progress };
  switch (opts.archiveFormat) {
    case 'default':
    case 'zip-store':
      await writeZip(target, inputs.entries, manifest, opts.archiveFormat === 'default', writeOpts);
      break;
    case 'tgz':
      await writeTarGz(target, opts.modelName, inputs.entries, manifest, writeOpts);
      break;
    case 'no-archive':
      await writeFolder(target, inputs.entries, manifest, writeOpts);
      break;
  }
  progress.finish();
  io.out(`Model archive written to ${target}`);
  return target;
}
