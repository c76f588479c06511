#!/usr/bin/env node
/**
 * `onnxserve-archiver` / `torch-model-archiver`: packages an ONNX model as a TorchServe model
 * archive (spec §7). Usage errors exit 2 (argparse), every other failure exits 1 with
 * torch-model-archiver's message where it has one.
 */
import path from 'node:path';
import { parseArchiverArgs, usageLine } from './args.js';
import { runArchiver } from './archiver.js';
import { renderError, UsageError } from './errors.js';
import { knownHandlerNames } from './validate.js';

function progName(): string {
  const base = path.basename(process.argv[1] ?? '');
  return base.startsWith('torch-model-archiver') ? 'torch-model-archiver' : 'onnxserve-archiver';
}

async function main(argv: string[]): Promise<number> {
  const prog = progName();
  const writeOut = (s: string) => void process.stdout.write(s);
  const writeErr = (s: string) => void process.stderr.write(s);
  try {
    const wantsHelp = argv.includes('-h') || argv.includes('--help');
    const names = wantsHelp ? await knownHandlerNames().catch(() => []) : [];
    const options = parseArchiverArgs(argv, prog, writeOut, process.cwd(), names);
    if (options === 'help') return 0;
    await runArchiver(options, {
      cwd: process.cwd(),
      env: process.env,
      out: (line) => writeOut(`${line}\n`),
      err: (line) => writeErr(`${line}\n`),
      errRaw: writeErr,
      errIsTTY: process.stderr.isTTY === true,
    });
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      writeErr(`${usageLine(prog)}\n${prog}: error: ${err.message}\n`);
      return 2;
    }
    writeErr(`${renderError(err)}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Exit explicitly: an imported handler module may have left timers or handles behind. (stdout and
// stderr writes are synchronous for files, pipes and terminals on Linux/macOS.)
process.exit(code);
