/**
 * Starts a worker thread on worker-main, from compiled dist/ (.js) or from src/ under vitest/tsx (.ts).
 * Node 20 ignores `--import tsx` in a Worker's execArgv for the entry itself ("Unknown file extension
 * .ts"), so for .ts a tiny eval'd bootstrap registers tsx inside the thread and then imports the entry.
 */
import { Worker, type MessagePort } from 'node:worker_threads';

const fromSource = import.meta.url.endsWith('.ts');

/** What a worker thread starts with: its end of the lane (lane.ts). */
export interface WorkerBoot {
  port: MessagePort;
  bell: SharedArrayBuffer;
}

/**
 * `heapLimitMb`: the thread's V8 old-generation limit (Worker resourceLimits); a handler that
 * exceeds it ends that thread only (ERR_WORKER_OUT_OF_MEMORY), never the server. 0: Node's default.
 */
export function spawnWorker(boot: WorkerBoot, heapLimitMb = 0, captureOutput = false): Worker {
  const options = {
    // Piped only when someone reads it (MODEL_LOG); else the thread writes to the process's own.
    ...(captureOutput ? { stdout: true, stderr: true } : {}),
    workerData: boot,
    transferList: [boot.port],
    ...(heapLimitMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: heapLimitMb } } : {}),
  };
  if (!fromSource) return new Worker(new URL('./worker-main.js', import.meta.url), options);
  const entry = new URL('./worker-main.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })` +
    `.catch((e) => { setImmediate(() => { throw e; }); });`;
  return new Worker(bootstrap, { eval: true, ...options });
}
