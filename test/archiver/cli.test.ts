/**
 * The archiver CLI end to end (spawned as a user would run it): every output format read back
 * with the server's own `openArchive`, MANIFEST.json bytes, torch-model-archiver's error texts,
 * and onnxserve's checks before writing (ONNX loads, handler honours the contract).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yauzl from 'yauzl';
import { mlp } from '../fixtures/models.js';
import { archiver, listFiles, MAIN_TS, tempDir, withArchive } from './helpers.js';

let root: string;
let n = 0;
/** A fresh, not yet existing export folder name (relative to root). */
const outDir = () => `out${++n}`;

const MANIFEST = `{
  "createdOn": "14/11/2023 22:13:20",
  "runtime": "python",
  "model": {
    "modelName": "mlp",
    "serializedFile": "mlp.onnx",
    "handler": "base_handler",
    "modelVersion": "1.0"
  },
  "archiverVersion": "0.12.0"
}`;

const BASE = ['--model-name', 'mlp', '-v', '1.0', '--serialized-file', 'mlp.onnx', '--handler', 'base_handler'];

const run = (args: string[], env?: Record<string, string | undefined>) => archiver(args, { cwd: root, env });
const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

function zipEntries(file: string): Promise<Array<{ name: string; method: number }>> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error('no zip'));
      const out: Array<{ name: string; method: number }> = [];
      zip.on('entry', (e: yauzl.Entry) => {
        out.push({ name: e.fileName, method: e.compressionMethod });
        zip.readEntry();
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

async function tarEntries(file: string): Promise<Array<{ path: string; mtime?: Date }>> {
  const out: Array<{ path: string; mtime?: Date }> = [];
  await tar.t({ file, onReadEntry: (e) => void out.push({ path: e.path, mtime: e.mtime }) });
  return out;
}

beforeAll(async () => {
  root = tempDir();
  await mlp(root);
  fs.writeFileSync(path.join(root, 'index_to_name.json'), '{"0": "a", "1": "b", "2": "c"}');
  fs.writeFileSync(path.join(root, 'handler.mjs'), 'export async function handle(batch) { return batch.map(() => "ok"); }\nexport function custom(batch) { return batch; }\n');
  fs.writeFileSync(path.join(root, 'no-contract.mjs'), 'export const answer = 42;\n');
  fs.writeFileSync(path.join(root, 'throws.mjs'), 'throw new Error("boom at import");\n');
  fs.writeFileSync(path.join(root, 'handler.py'), 'def handle(data, context):\n    return data\n');
  fs.writeFileSync(path.join(root, 'model.py'), 'class Net: pass\n');
  fs.writeFileSync(path.join(root, 'requirements.txt'), 'numpy\n');
  fs.writeFileSync(path.join(root, 'model-config.yaml'), 'minWorkers: 1\nmaxWorkers: 2\nbatchSize: 4\n');
  fs.writeFileSync(path.join(root, 'bad-types.yaml'), 'minWorkers: 1\nbatchSize: many\n');
  fs.writeFileSync(path.join(root, 'broken.yaml'), 'minWorkers: [1\n');
  fs.writeFileSync(path.join(root, 'garbage.onnx'), 'this is not a protobuf at all');
  fs.writeFileSync(path.join(root, 'model.pt'), 'PK fake torch file');
  fs.writeFileSync(path.join(root, 'a-file'), 'x');
  // An extra-files folder with what torch-model-archiver leaves out (dot-dirs, __pycache__, __MACOSX).
  const assets = path.join(root, 'assets');
  for (const d of ['sub/deep', '.git', '__pycache__', 'sub/__MACOSX', 'sub/.cache']) fs.mkdirSync(path.join(assets, d), { recursive: true });
  fs.writeFileSync(path.join(assets, 'vocab.txt'), 'v');
  fs.writeFileSync(path.join(assets, '.env'), 'e');
  fs.writeFileSync(path.join(assets, 'sub/s.txt'), 's');
  fs.writeFileSync(path.join(assets, 'sub/deep/d.txt'), 'd');
  fs.writeFileSync(path.join(assets, '.git/HEAD'), 'h');
  fs.writeFileSync(path.join(assets, '__pycache__/x.pyc'), 'p');
  fs.writeFileSync(path.join(assets, 'sub/__MACOSX/m'), 'm');
  fs.writeFileSync(path.join(assets, 'sub/.cache/c'), 'c');
  fs.writeFileSync(path.join(root, 'labels-en.txt'), 'en');
  fs.writeFileSync(path.join(root, 'labels-de.txt'), 'de');
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('output formats (spec §7.1)', () => {
  it('default: a deflated <name>.mar with the artifacts at the root and MAR-INF/MANIFEST.json', async () => {
    const out = outDir();
    const r = await run([...BASE, '--extra-files', 'index_to_name.json', '--export-path', out]);
    expect(r.stderr).toBe('WARNING - Export path ' + out + ' does not exist; creating it\n');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('ONNX model mlp.onnx loads in onnxruntime:\n  input  x float32 [N, 4]\n  output y float32 [N, 3]\n');
    const mar = path.join(root, out, 'mlp.mar');
    expect(r.stdout).toContain(`Model archive written to ${mar}\n`);
    expect(fs.readdirSync(path.join(root, out))).toEqual(['mlp.mar']);
    const entries = await zipEntries(mar);
    expect(entries.map((e) => e.name).sort()).toEqual(['MAR-INF/MANIFEST.json', 'index_to_name.json', 'mlp.onnx']);
    expect(entries.every((e) => e.method === 8)).toBe(true);
    await withArchive(mar, root, (a) => {
      expect(listFiles(a.dir)).toEqual(['MAR-INF/MANIFEST.json', 'index_to_name.json', 'mlp.onnx']);
      expect(fs.readFileSync(path.join(a.dir, 'MAR-INF/MANIFEST.json'), 'utf8')).toBe(MANIFEST);
      expect(a.manifest.model).toEqual({ modelName: 'mlp', serializedFile: 'mlp.onnx', handler: 'base_handler', modelVersion: '1.0' });
      expect(fs.readFileSync(path.join(a.dir, 'mlp.onnx'))).toEqual(fs.readFileSync(path.join(root, 'mlp.onnx')));
    });
  });

  it('zip-store: the same .mar, stored without compression', async () => {
    const out = outDir();
    fs.mkdirSync(path.join(root, out));
    const r = await run([...BASE, '--archive-format', 'zip-store', '--export-path', out]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const mar = path.join(root, out, 'mlp.mar');
    const entries = await zipEntries(mar);
    expect(entries.map((e) => e.name).sort()).toEqual(['MAR-INF/MANIFEST.json', 'mlp.onnx']);
    expect(entries.every((e) => e.method === 0)).toBe(true);
    await withArchive(mar, root, (a) => expect(fs.readFileSync(path.join(a.dir, 'MAR-INF/MANIFEST.json'), 'utf8')).toBe(MANIFEST));
  });

  it('tgz: <name>.tar.gz with every entry under <name>/', async () => {
    const out = outDir();
    fs.mkdirSync(path.join(root, out));
    const r = await run([...BASE, '--archive-format', 'tgz', '--export-path', out, '--extra-files', 'assets']);
    expect(r.code).toBe(0);
    const file = path.join(root, out, 'mlp.tar.gz');
    expect(fs.readdirSync(path.join(root, out))).toEqual(['mlp.tar.gz']);
    const entries = await tarEntries(file);
    expect(entries.map((e) => e.path).sort()).toEqual(
      ['MAR-INF/MANIFEST.json', '.env', 'mlp.onnx', 'sub/deep/d.txt', 'sub/s.txt', 'vocab.txt'].map((p) => `mlp/${p}`).sort(),
    );
    // SOURCE_DATE_EPOCH fixes every entry's time.
    expect(entries.every((e) => e.mtime?.getTime() === 1_700_000_000_000)).toBe(true);
    await withArchive(file, root, (a) => {
      expect(listFiles(a.dir)).toEqual(['.env', 'MAR-INF/MANIFEST.json', 'mlp.onnx', 'sub/deep/d.txt', 'sub/s.txt', 'vocab.txt']);
      expect(fs.readFileSync(path.join(a.dir, 'MAR-INF/MANIFEST.json'), 'utf8')).toBe(MANIFEST);
    });
  });

  it('no-archive: the folder <export>/<name>/ with MAR-INF/MANIFEST.json', async () => {
    const out = outDir();
    fs.mkdirSync(path.join(root, out));
    const r = await run([...BASE, '--archive-format', 'no-archive', '--export-path', out, '--extra-files', 'index_to_name.json']);
    expect(r.code).toBe(0);
    const dir = path.join(root, out, 'mlp');
    expect(fs.readdirSync(path.join(root, out))).toEqual(['mlp']);
    expect(listFiles(dir)).toEqual(['MAR-INF/MANIFEST.json', 'index_to_name.json', 'mlp.onnx']);
    expect(fs.readFileSync(path.join(dir, 'MAR-INF/MANIFEST.json'), 'utf8')).toBe(MANIFEST);
    await withArchive(dir, root, (a) => expect(a.manifest.model.serializedFile).toBe('mlp.onnx'));
  });

  it('writes byte-identical .mar and .tar.gz files when rebuilt with the same SOURCE_DATE_EPOCH', async () => {
    const out = outDir();
    const build = async () => {
      const hashes: string[] = [];
      for (const format of ['default', 'tgz']) {
        const args = [...BASE, '--archive-format', format, '--export-path', out, '--extra-files', 'assets,index_to_name.json', '-f'];
        expect((await run(args)).code).toBe(0);
        hashes.push(sha(path.join(root, out, format === 'tgz' ? 'mlp.tar.gz' : 'mlp.mar')));
      }
      return hashes;
    };
    const first = await build();
    await new Promise((r) => setTimeout(r, 1100)); // the wall clock moves on; the archives must not
    expect(await build()).toEqual(first);
  });

  it('writes into the current directory when --export-path is not given', async () => {
    const cwd = path.join(root, outDir());
    fs.mkdirSync(cwd);
    const r = await archiver(['--model-name', 'here', '-v', '1', '--serialized-file', '../mlp.onnx', '--handler', 'base_handler'], { cwd });
    expect(r.code).toBe(0);
    expect(fs.readdirSync(cwd)).toEqual(['here.mar']);
  });
});

describe('MANIFEST.json (spec §7.2, torch-model-archiver 0.12.0)', () => {
  it('has every optional key, in the archiver key order, with basenames only', async () => {
    const out = outDir();
    const r = await run([
      '--model-name', 'full', '-v', '2.1', '--serialized-file', `${root}/mlp.onnx`, '--handler', './handler.mjs',
      '--model-file', 'model.py', '-r', 'requirements.txt', '-c', './model-config.yaml', '--runtime', 'python3',
      '--export-path', out,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('NOTE - --model-file model.py is copied and recorded for torch-model-archiver compatibility; onnxserve does not use it');
    expect(r.stderr).toContain('NOTE - --requirements-file requirements.txt is copied and recorded; onnxserve installs no Python packages');
    await withArchive(path.join(root, out, 'full.mar'), root, (a) => {
      expect(fs.readFileSync(path.join(a.dir, 'MAR-INF/MANIFEST.json'), 'utf8')).toBe(`{
  "createdOn": "14/11/2023 22:13:20",
  "runtime": "python3",
  "model": {
    "modelName": "full",
    "serializedFile": "mlp.onnx",
    "handler": "handler.mjs",
    "modelFile": "model.py",
    "modelVersion": "2.1",
    "requirementsFile": "requirements.txt",
    "configFile": "model-config.yaml"
  },
  "archiverVersion": "0.12.0"
}`);
      expect(listFiles(a.dir)).toEqual(['MAR-INF/MANIFEST.json', 'handler.mjs', 'mlp.onnx', 'model-config.yaml', 'model.py', 'requirements.txt']);
      expect(a.config?.batchSize).toBe(4);
    });
  });

  it('records `file.mjs:function` as given (basename) and copies the module', async () => {
    const out = outDir();
    const r = await run([...BASE.slice(0, 6), '--handler', `${root}/handler.mjs:custom`, '--export-path', out, '--archive-format', 'no-archive']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Handler module handler.mjs: function custom\n');
    const dir = path.join(root, out, 'mlp');
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'MAR-INF/MANIFEST.json'), 'utf8')).model.handler).toBe('handler.mjs:custom');
    expect(fs.existsSync(path.join(dir, 'handler.mjs'))).toBe(true);
  });

  it('uses the local time of now without SOURCE_DATE_EPOCH, and leaves out an empty version (Python truthiness)', async () => {
    const out = outDir();
    const before = Date.now();
    const r = await run(['--model-name', 'mlp', '-v', '', '--serialized-file', 'mlp.onnx', '--handler', 'base_handler', '--export-path', out, '--archive-format', 'no-archive'], {
      SOURCE_DATE_EPOCH: undefined,
    });
    expect(r.code).toBe(0);
    const m = JSON.parse(fs.readFileSync(path.join(root, out, 'mlp/MAR-INF/MANIFEST.json'), 'utf8')) as { createdOn: string; model: object };
    const match = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(m.createdOn);
    expect(match).not.toBeNull();
    const [, d, mo, y, h, mi, s] = (match ?? []).map(Number);
    const created = Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s);
    expect(created).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(created).toBeLessThanOrEqual(Date.now());
    expect(m.model).toEqual({ modelName: 'mlp', serializedFile: 'mlp.onnx', handler: 'base_handler' });
  });

  it('refuses a malformed SOURCE_DATE_EPOCH', async () => {
    const r = await run([...BASE, '--export-path', outDir()], { SOURCE_DATE_EPOCH: 'yesterday' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ERROR - SOURCE_DATE_EPOCH must be a whole number of seconds since 1970-01-01, got "yesterday"\n');
  });
});

describe('--force and existing output', () => {
  it('refuses to overwrite without -f with the exact torch-model-archiver text, and overwrites with it', async () => {
    const out = outDir();
    expect((await run([...BASE, '--export-path', out])).code).toBe(0);
    const mar = path.join(root, out, 'mlp.mar');
    fs.writeFileSync(mar, 'old');
    const refused = await run([...BASE, '--export-path', out]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toBe(
      `ERROR - ${out}/mlp.mar already exists.\nPlease specify --force/-f option to overwrite the model archive output file.\nSee -h/--help for more details.\n`,
    );
    expect(fs.readFileSync(mar, 'utf8')).toBe('old');
    for (const flag of ['-f', '--force']) {
      const forced = await run([...BASE, '--export-path', out, flag]);
      expect(forced.code).toBe(0);
      expect(forced.stderr).toBe(`WARNING - Overwriting ${out}/mlp.mar ...\n`);
      await withArchive(mar, root, (a) => expect(a.manifest.model.modelName).toBe('mlp'));
    }
    expect(fs.readdirSync(path.join(root, out))).toEqual(['mlp.mar']); // no temp files left behind
  });

  it('names the .tar.gz file and the no-archive folder in the same message', async () => {
    const out = outDir();
    for (const [format, name] of [['tgz', 'mlp.tar.gz'], ['no-archive', 'mlp']] as const) {
      expect((await run([...BASE, '--export-path', out, '--archive-format', format])).code).toBe(0);
      const r = await run([...BASE, '--export-path', out, '--archive-format', format]);
      expect(r.code).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe(`ERROR - ${out}/${name} already exists.`);
    }
  });
});

describe('torch-model-archiver error texts', () => {
  it('refuses a bad model name before doing anything', async () => {
    const out = outDir();
    const r = await run(['--model-name', '-bad/name', '-v', '1', '--serialized-file', 'mlp.onnx', '--handler', 'base_handler', '--export-path', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'ERROR - Model name contains special characters.\nThe allowed regular expression filter for model name is: ^[A-Za-z0-9][A-Za-z0-9_\\-.]*$\n',
    );
    expect(fs.existsSync(path.join(root, out))).toBe(false);
  });

  it('reports a missing extra file as FileNotFoundError and writes nothing', async () => {
    const out = outDir();
    const r = await run([...BASE, '--export-path', out, '--extra-files', 'index_to_name.json,missing.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('FileNotFoundError: File does not exist: missing.json\n');
    expect(fs.existsSync(path.join(root, out))).toBe(false);
  });

  it('reports a missing serialized file with Python\'s copy error', async () => {
    const r = await run(['--model-name', 'm', '-v', '1', '--serialized-file', 'nowhere.onnx', '--handler', 'base_handler', '--export-path', outDir()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("FileNotFoundError: [Errno 2] No such file or directory: 'nowhere.onnx'\n");
  });

  it('refuses an export path that is a file, and creates a missing one with a warning', async () => {
    const r = await run([...BASE, '--export-path', 'a-file']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('ERROR - Given export-path a-file is not a directory. Point to a valid export-path directory.\n');
    const nested = `${outDir()}/deeper/still`;
    const ok = await run([...BASE, '--export-path', nested]);
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe(`WARNING - Export path ${nested} does not exist; creating it\n`);
    expect(fs.existsSync(path.join(root, nested, 'mlp.mar'))).toBe(true);
  });
});

describe('argparse-style usage errors (exit 2)', () => {
  it('lists every missing required argument', async () => {
    const r = await run(['--model-name', 'x']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^usage: onnxserve-archiver \[-h\] --model-name MODEL_NAME /);
    expect(r.stderr).toContain('\nonnxserve-archiver: error: the following arguments are required: --handler, -v/--version\n');
  });

  it('rejects bad choices, unknown flags and a flag without its value', async () => {
    const choice = await run([...BASE, '--archive-format', 'zip']);
    expect(choice.code).toBe(2);
    expect(choice.stderr).toContain("error: argument --archive-format: invalid choice: 'zip' (choose from 'tgz', 'no-archive', 'zip-store', 'default')\n");
    const runtime = await run([...BASE, '--runtime', 'java']);
    expect(runtime.code).toBe(2);
    expect(runtime.stderr).toContain("error: argument --runtime: invalid choice: 'java' (choose from 'python', 'python3', 'LSP')\n");
    const unknown = await run([...BASE, '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('error: unrecognized arguments: --frobnicate\n');
    const noValue = await run(['--model-name', 'x', '--handler', 'base_handler', '-v']);
    expect(noValue.code).toBe(2);
    expect(noValue.stderr).toContain('error: argument -v/--version: expected one argument\n');
  });

  it('accepts unambiguous prefixes of long options, as argparse does, and refuses ambiguous ones', async () => {
    const out = outDir();
    const ok = await run(['--model-name', 'mlp', '-v', '1.0', '--serialized=mlp.onnx', '--hand', 'base_handler', '--export-p', out, '--archive', 'no-archive']);
    expect(ok.code).toBe(0);
    expect(fs.readFileSync(path.join(root, out, 'mlp/MAR-INF/MANIFEST.json'), 'utf8')).toBe(MANIFEST);
    const ambiguous = await run([...BASE, '--ex', 'x']);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('error: ambiguous option: --ex could match --extra-files, --export-path\n');
  });

  it('prints help with -h (exit 0) and uses the name it was invoked as', async () => {
    const help = await run(['-h']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: onnxserve-archiver /);
    expect(help.stdout).toContain('--archive-format <ARCHIVE_FORMAT>');
    expect(help.stdout).toContain('Built-in handler names: ');
    const link = path.join(root, 'torch-model-archiver');
    fs.symlinkSync(MAIN_TS, link);
    const r = await archiver(['--model-name', 'x'], { cwd: root, entry: link });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^usage: torch-model-archiver /);
    expect(r.stderr).toContain('\ntorch-model-archiver: error: the following arguments are required: --handler, -v/--version\n');
  });
});

describe('validation before writing (onnxserve)', () => {
  it('refuses a file that onnxruntime cannot load, and writes nothing', async () => {
    const out = outDir();
    const r = await run(['--model-name', 'g', '-v', '1', '--serialized-file', 'garbage.onnx', '--handler', 'base_handler', '--export-path', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ERROR - garbage\.onnx is not a valid ONNX model: onnxruntime could not load it: .+\n$/);
    expect(fs.existsSync(path.join(root, out))).toBe(false);
  });

  it('refuses a non-ONNX serialized file, and explains that --convert cannot convert it', async () => {
    const plain = await run(['--model-name', 'p', '-v', '1', '--serialized-file', 'model.pt', '--handler', 'base_handler', '--export-path', outDir()]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('ERROR - model.pt is not an ONNX model (.onnx): onnxserve serves ONNX models only.');
    expect(plain.stderr).toContain('torch.onnx.export(');
    const convert = await run(['--model-name', 'p', '-v', '1', '--serialized-file', 'model.pt', '--handler', 'base_handler', '--convert', '--export-path', outDir()]);
    expect(convert.code).toBe(1);
    expect(convert.stderr).toContain('ERROR - --convert: converting model.pt to ONNX is not supported;');
  });

  it('accepts --convert for a model that is already ONNX, with a note', async () => {
    const r = await run([...BASE, '--convert', '--export-path', outDir()]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('NOTE - --convert: mlp.onnx is already an ONNX model; nothing to convert\n');
  });

  it('takes the only .onnx among the extra files when --serialized-file is left out', async () => {
    const out = outDir();
    const r = await run(['--model-name', 'mlp', '-v', '1.0', '--handler', 'base_handler', '--extra-files', 'mlp.onnx', '--export-path', out, '--archive-format', 'no-archive']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('WARNING - No --serialized-file: the server will load mlp.onnx, the only .onnx file in the archive\n');
    const none = await run(['--model-name', 'mlp', '-v', '1.0', '--handler', 'base_handler', '--export-path', outDir()]);
    expect(none.code).toBe(1);
    expect(none.stderr).toBe('ERROR - No ONNX model given: pass --serialized-file model.onnx (onnxserve serves ONNX models only)\n');
  });

  it('refuses a Python handler with a clear message', async () => {
    for (const handler of ['handler.py', './handler.py:handle', 'handler']) {
      const out = outDir();
      const r = await run([...BASE.slice(0, 6), '--handler', handler, '--export-path', out]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`ERROR - Handler "${handler}" is a Python handler, which onnxserve cannot run. onnxserve needs a JavaScript handler or a built-in handler name`);
      expect(fs.existsSync(path.join(root, out))).toBe(false);
    }
  });

  it('refuses handler names it does not know', async () => {
    const r = await run([...BASE.slice(0, 6), '--handler', 'vllm_handler', '--export-path', outDir()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ERROR - Handler "vllm_handler" is a TorchServe built-in handler that onnxserve does not provide.');
    const other = await run([...BASE.slice(0, 6), '--handler', 'my_custom', '--export-path', outDir()]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('ERROR - Handler "my_custom" is neither a built-in handler name nor a JavaScript module.');
  });

  it('refuses JavaScript modules that do not honour the handler contract, and accepts one exporting handle', async () => {
    // The reason after the colon is validateHandlerModule's own text (shared with the server).
    const cases: Array<[string, RegExp]> = [
      ['no-contract.mjs', /^ERROR - Handler module no-contract\.mjs is not a valid onnxserve handler: .*handle.*\n$/],
      ['handler.mjs:missing', /^ERROR - Handler module handler\.mjs is not a valid onnxserve handler: .*"missing".*\n$/],
      ['throws.mjs', /^ERROR - Handler module throws\.mjs could not be imported: boom at import\n$/],
      ['absent.mjs', /^FileNotFoundError: \[Errno 2\] No such file or directory: 'absent\.mjs'\n$/],
    ];
    for (const [handler, message] of cases) {
      const out = outDir();
      const r = await run([...BASE.slice(0, 6), '--handler', handler, '--export-path', out]);
      expect(r.code, handler).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(fs.existsSync(path.join(root, out))).toBe(false);
    }
    const out = outDir();
    const ok = await run([...BASE.slice(0, 6), '--handler', 'handler.mjs', '--export-path', out]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('Handler module handler.mjs exports handle\n');
    await withArchive(path.join(root, out, 'mlp.mar'), root, (a) => {
      expect(a.manifest.model.handler).toBe('handler.mjs');
      expect(listFiles(a.dir)).toEqual(['MAR-INF/MANIFEST.json', 'handler.mjs', 'mlp.onnx']);
    });
  });

  it('prints model-config.yaml warnings from the server\'s parser, and refuses an unparseable one', async () => {
    const warn = await run([...BASE, '-c', 'bad-types.yaml', '--export-path', outDir()]);
    expect(warn.code).toBe(0);
    expect(warn.stderr).toContain('WARNING - bad-types.yaml: Invalid batchSize: many, should be integer\n');
    const out = outDir();
    const broken = await run([...BASE, '--config-file', 'broken.yaml', '--export-path', out]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^ERROR - Config file broken\.yaml cannot be used: Failed to parse model config yaml file: /);
    expect(fs.existsSync(path.join(root, out))).toBe(false);
  });
});

describe('--extra-files', () => {
  it('copies files, a directory\'s contents (minus dot-dirs, __pycache__, __MACOSX) and glob matches', async () => {
    const out = outDir();
    const r = await run([...BASE, '--export-path', out, '--archive-format', 'no-archive', '--extra-files', 'assets, labels-*.txt,index_to_name.json,']);
    expect(r.code).toBe(0);
    expect(listFiles(path.join(root, out, 'mlp'))).toEqual([
      '.env',
      'MAR-INF/MANIFEST.json',
      'index_to_name.json',
      'labels-de.txt',
      'labels-en.txt',
      'mlp.onnx',
      'sub/deep/d.txt',
      'sub/s.txt',
      'vocab.txt',
    ]);
  });

  it('fails for a glob that matches nothing, as a missing file', async () => {
    const r = await run([...BASE, '--export-path', outDir(), '--extra-files', 'nothing-*.txt']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('FileNotFoundError: File does not exist: nothing-*.txt\n');
  });
});
