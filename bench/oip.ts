/**
 * Open Inference Protocol v2: JSON vs the binary tensor data extension for larger tensors, on the
 * real CLI. Two models built from code:
 *   - `image_mean`: x float32 [N,3,224,224] → per-channel mean [N,3] (an image-sized input, tiny
 *     output: what the request encoding costs);
 *   - `identity`: x float32 [N,65536] → the same tensor (a large input *and* output).
 * For each, sequential requests (concurrency 1, keep-alive) of one tensor as JSON and as binary
 * (binary outputs too for the identity). Bodies are encoded once up front, so latency is the
 * server plus transfer, not the client's encoding. Reports bytes on the wire, latency, server CPU
 * time per request (utime+stime of the server process: its worker threads included) and the
 * JSON ÷ binary ratios — the evidence that binary tensor bytes are not re-encoded through JSON.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { identity } from '../test/fixtures/identity.js';
import { writeMar } from '../test/fixtures/mar.js';
import { buildInferRequest, parseInferResponse, type ClientTensor } from '../test/fixtures/oip-client.js';
import { intsAttr, intAttr, modelBytes, node, seededRandom, valueInfo } from '../test/fixtures/onnx.js';
import { latencyStats, type LatencyStats } from './load.js';
import { makeSandbox, removeSandbox, startOnnxserve } from './servers.js';

export const OIP_COUNTS = { warmup: 10, requests: 100 };

interface Encoded {
  body: Buffer;
  headers: Record<string, string>;
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function post(agent: http.Agent, url: URL, req: Encoded): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const r = http.request(
      { agent, method: 'POST', hostname: url.hostname, port: url.port, path: url.pathname, headers: { ...req.headers, 'content-length': req.body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}

/** utime + stime of a process in ms (Linux; NaN elsewhere). */
function cpuMs(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ = 100 on Linux
  } catch {
    return NaN;
  }
}

export interface EncodingResult extends LatencyStats {
  requestBytes: number;
  responseBytes: number;
  serverCpuMsPerRequest: number;
  errors: number;
}

export interface OipScenario {
  name: string;
  shape: number[];
  json: EncodingResult;
  binary: EncodingResult;
  ratios: { requestBytes: number; responseBytes: number; p50: number; mean: number; serverCpu: number };
}

async function measure(url: URL, req: Encoded, pid: number, check: (r: Reply) => void): Promise<EncodingResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    for (let i = 0; i < OIP_COUNTS.warmup; i++) check(await post(agent, url, req));
    const lat: number[] = [];
    let errors = 0;
    let responseBytes = 0;
    const cpu0 = cpuMs(pid);
    for (let i = 0; i < OIP_COUNTS.requests; i++) {
      const t0 = performance.now();
      const r = await post(agent, url, req);
      lat.push(performance.now() - t0);
      if (r.status !== 200) errors++;
      responseBytes = r.body.length;
    }
    const cpu = (cpuMs(pid) - cpu0) / OIP_COUNTS.requests;
    return { ...latencyStats(lat), requestBytes: req.body.length, responseBytes, serverCpuMsPerRequest: cpu, errors };
  } finally {
    agent.destroy();
  }
}

function encode(inputs: ClientTensor[], binary: boolean): Encoded {
  const r = buildInferRequest(inputs, binary ? { binaryInputs: true, binaryOutputs: true } : {});
  return { body: Buffer.from(r.body), headers: r.headers };
}

/** A 200 whose outputs parse and have the expected shape. */
function checker(shape: number[]): (r: Reply) => void {
  return (r) => {
    if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.body.toString().slice(0, 300)}`);
    const headers = new Headers();
    for (const [k, v] of Object.entries(r.headers)) if (typeof v === 'string') headers.set(k, v);
    const out = parseInferResponse(new Uint8Array(r.body), headers).outputs[0];
    if (!out || out.shape.join() !== shape.join()) throw new Error(`unexpected output ${JSON.stringify(out?.shape)}`);
  };
}

const round = (v: number, d = 3) => Number(v.toFixed(d));

export async function oipBench(step: (s: string) => void): Promise<OipScenario[]> {
  const sandbox = makeSandbox('oip');
  try {
    const store = path.join(sandbox, 'model_store');
    fs.mkdirSync(store);
    const yaml = 'minWorkers: 1\nmaxWorkers: 1\nresponseTimeout: 60\n';
    const imageMean = modelBytes({
      name: 'image_mean',
      inputs: [valueInfo('x', 'float32', ['N', 3, 224, 224])],
      outputs: [valueInfo('y', 'float32', ['N', 3])],
      nodes: [node('ReduceMean', ['x'], ['y'], [intsAttr('axes', [2, 3]), intAttr('keepdims', 0)])],
    });
    const identityFile = await identity(sandbox, { datatypes: ['FP32'], dims: ['N', 65536] });
    for (const [name, bytes] of [
      ['image_mean', imageMean],
      ['identity', fs.readFileSync(identityFile)],
    ] as const) {
      await writeMar(path.join(store, `${name}.mar`), {
        modelName: name,
        serializedFile: 'model.onnx',
        configFile: 'model-config.yaml',
        files: { 'model.onnx': bytes, 'model-config.yaml': yaml },
      });
    }
    const server = await startOnnxserve(sandbox, store, { max_request_size: 32_000_000 });
    try {
      const rnd = seededRandom(7);
      const values = (n: number) => Array.from({ length: n }, () => Math.fround(rnd()));
      const cases: Array<{ name: string; model: string; input: ClientTensor; outShape: number[] }> = [
        { name: 'FP32 [1,3,224,224] → [1,3]', model: 'image_mean', input: { name: 'x', datatype: 'FP32', shape: [1, 3, 224, 224], data: values(3 * 224 * 224) }, outShape: [1, 3] },
        { name: 'FP32 [1,65536] identity', model: 'identity', input: { name: 'in_fp32', datatype: 'FP32', shape: [1, 65536], data: values(65536) }, outShape: [1, 65536] },
      ];
      const out: OipScenario[] = [];
      for (const c of cases) {
        const url = new URL(`${server.url}/v2/models/${c.model}/infer`);
        step(`OIP v2 ${c.name}: ${OIP_COUNTS.requests} JSON and ${OIP_COUNTS.requests} binary requests (+${OIP_COUNTS.warmup} warm-up each)`);
        const json = await measure(url, encode([c.input], false), server.pid, checker(c.outShape));
        const binary = await measure(url, encode([c.input], true), server.pid, checker(c.outShape));
        out.push({
          name: c.name,
          shape: c.input.shape,
          json,
          binary,
          ratios: {
            requestBytes: round(json.requestBytes / binary.requestBytes, 2),
            responseBytes: round(json.responseBytes / binary.responseBytes, 2),
            p50: round(json.p50Ms / binary.p50Ms, 2),
            mean: round(json.meanMs / binary.meanMs, 2),
            serverCpu: round(json.serverCpuMsPerRequest / binary.serverCpuMsPerRequest, 2),
          },
        });
      }
      return out;
    } finally {
      await server.stop();
    }
  } finally {
    removeSandbox(sandbox);
  }
}
