#!/usr/bin/env node
/**
 * KServe custom-runtime entry: `node dist/cli/kserve-main.js --model_name=iris --model_dir=/mnt/models
 * --http_port=8080 [onnxserve flags]` (the image: `onnxserve-entrypoint.sh kserve …`). Reads the
 * model dir's layout (kserve-layout.ts), writes what it generates into a writable work dir
 * (ONNXSERVE_KSERVE_WORKDIR, default `<tmpdir>/onnxserve-kserve`), then runs the real CLI
 * (`--start --foreground …`) in this very process: no child, so SIGTERM from the kubelet reaches
 * the server's own handlers and it drains.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyLaunchPlan, KServeLayoutError, kserveLaunchArgs, nodeLayoutFs, type KServeLaunchPlan } from './kserve-layout.js';
import { pidFilePath, readPid } from './pid-file.js';

const say = (line: string) => process.stdout.write(`[onnxserve-kserve] ${line}\n`);

let plan: KServeLaunchPlan;
try {
  const workDir = path.resolve(process.env.ONNXSERVE_KSERVE_WORKDIR || path.join(os.tmpdir(), 'onnxserve-kserve'));
  plan = kserveLaunchArgs({ argv: process.argv.slice(2), env: process.env, fs: nodeLayoutFs, workDir });
  for (const note of plan.notes) say(note);
  applyLaunchPlan(plan);
} catch (err) {
  say(err instanceof KServeLayoutError ? err.message : `Cannot prepare the KServe model dir: ${(err as Error).message}`);
  process.exit(1);
}

// A PID file naming this very process is stale: a container restarted with its tmp volume kept,
// whose server was PID 1 as this one is. The CLI would take it for a running server.
if (readPid() === process.pid) fs.rmSync(pidFilePath(), { force: true });

const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const cli = new URL(`./main${ext}`, import.meta.url);
say(`onnxserve ${plan.args.join(' ')}`);
process.argv = [process.argv[0] ?? process.execPath, fileURLToPath(cli), ...plan.args];
await import(cli.href);
