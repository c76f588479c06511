/**
 * B9–B11: the same model, the same concurrency, over gRPC and over REST, alternated in rounds
 * (REST, gRPC, REST, …); the ratio is the median over rounds of gRPC ÷ REST within each round.
 *
 *   B9   tiny MLP, TorchServe `Predictions` (JSON row in `input.body`) vs `POST /predictions`, 32 in flight, req/s
 *   B10  the same at 1 in flight, p50 latency
 *   B11  tiny MLP, OIP `ModelInfer` (raw_input_contents, FP32) vs `POST /v2/models/m/infer` (binary extension), 32 in flight, req/s
 *
 * Both clients run in the bench process and share the two cores with the server; grpc-js costs the
 * client more CPU per call than node:http (client CPU is in the JSON).
 */
import { CpuMeter, fmt, round, type Ctx, type ScenarioResult } from '../common.js';
import { grpcClosedLoop, type GrpcTarget } from '../grpc-load.js';
import { closedLoop, interleaved, medianOfRounds, type LoadResult, type Reply } from '../load.js';
import { mlpMar, ROW, ROW_BODY } from '../models.js';
import { startBare, waitWorkersReady, withOnnxserve } from '../servers.js';

const MODEL = { name: 'mlp_b8', yaml: { workers: 1, batchSize: 8, maxBatchDelay: 2 } } as const;
const TS_INFERENCE = 'org.pytorch.serve.grpc.inference.InferenceAPIsService';
const OIP = 'inference.GRPCInferenceService';

const row = (r: LoadResult) => ({ reqPerS: round(r.reqPerS, 1), p50Ms: round(r.p50Ms), p99Ms: round(r.p99Ms), count: r.count, errors: r.errors, ...(r.firstError ? { firstError: r.firstError } : {}) });

function checkPrediction(r: unknown): void {
  const text = Buffer.from((r as { prediction: Uint8Array }).prediction).toString();
  const flat = (JSON.parse(text) as unknown[]).flat(2);
  if (flat.length !== 3) throw new Error(`unexpected gRPC MLP answer: ${text.slice(0, 200)}`);
}

function checkRest(r: Reply): void {
  const flat = (JSON.parse(r.body.toString()) as unknown[]).flat(2);
  if (flat.length !== 3) throw new Error(`unexpected MLP answer: ${r.body.toString().slice(0, 200)}`);
}

function checkModelInfer(r: unknown): void {
  const res = r as { outputs: Array<{ shape: string[] }>; raw_output_contents: Uint8Array[] };
  if (res.raw_output_contents?.[0]?.byteLength !== 12 && res.outputs?.[0]?.shape?.join() !== '1,3') throw new Error(`unexpected ModelInfer answer: ${JSON.stringify(res).slice(0, 200)}`);
}

/** OIP binary extension body: JSON header + the raw FP32 row. */
function oipBinaryBody(): { body: Buffer; headers: Record<string, string> } {
  const raw = Buffer.from(new Float32Array(ROW).buffer);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: raw.length } }], parameters: { binary_data_output: true } }));
  return { body: Buffer.concat([header, raw]), headers: { 'inference-header-content-length': String(header.length), 'content-type': 'application/octet-stream' } };
}

function grpcAddress(startupOutput: string): string {
  const m = /gRPC Inference API bind to: (\S+)/.exec(startupOutput);
  if (!m) throw new Error('the server did not print its gRPC inference address');
  return m[1]!;
}

export async function grpcScenarios(ctx: Ctx): Promise<ScenarioResult[]> {
  const bare = await startBare('bare-grpc-server.mjs');
  try {
    return await measure(ctx, new URL(bare.url).host);
  } finally {
    await bare.stop();
  }
}

async function measure(ctx: Ctx, bareGrpc: string): Promise<ScenarioResult[]> {
  const S = ctx.smoke ? { rounds: 1, seconds: 0.4, warmupS: 0.2 } : { rounds: 5, seconds: 2, warmupS: 0.5 };
  return withOnnxserve(
    'grpc',
    async (store) => void (await mlpMar(store, MODEL.name, MODEL.yaml)),
    {},
    async ({ server, mgmt }) => {
      await waitWorkersReady(mgmt, [MODEL.name]);
      const address = grpcAddress(server.startupOutput);
      const restPredict = (concurrency: number) => () =>
        closedLoop({ url: `${server.url}/predictions/${MODEL.name}`, body: ROW_BODY, check: checkRest, concurrency, durationS: S.seconds, warmup: S.warmupS, keepSamples: true });
      // The same closed loop for every gRPC load: its target method, request and reply check vary.
      const grpcLoad = (target: Pick<GrpcTarget, 'address' | 'protoFile' | 'service' | 'method' | 'request' | 'check'>) => (concurrency: number) => () =>
        grpcClosedLoop({ ...target, concurrency, durationS: S.seconds, warmup: S.warmupS, keepSamples: true });
      const predictions = { protoFile: 'inference.proto', service: TS_INFERENCE, method: 'Predictions', request: { model_name: MODEL.name, input: { body: Buffer.from(ROW_BODY) } }, check: checkPrediction };
      const grpcPredict = (concurrency: number, to = address) => grpcLoad({ ...predictions, address: to })(concurrency);
      const binary = oipBinaryBody();
      const restInfer = (concurrency: number) => () =>
        closedLoop({ url: `${server.url}/v2/models/${MODEL.name}/infer`, body: binary.body, headers: binary.headers, concurrency, durationS: S.seconds, warmup: S.warmupS, keepSamples: true });
      const grpcInfer = grpcLoad({
        address,
        protoFile: 'open_inference_grpc.proto',
        service: OIP,
        method: 'ModelInfer',
        request: { model_name: MODEL.name, inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 4] }], raw_input_contents: [Buffer.from(new Float32Array(ROW).buffer)] },
        check: checkModelInfer,
      });

      // CPU of the server (and of the bench process, the client) during each side's loads: server CPU
      // per request is the comparison the shared cores cannot blur (the grpc-js client costs more).
      const meters = { rest: { server: new CpuMeter(server.pid), client: new CpuMeter(process.pid) }, grpc: { server: new CpuMeter(server.pid), client: new CpuMeter(process.pid) } };
      const metered = (side: 'rest' | 'grpc', fn: () => Promise<LoadResult>) => () => meters[side].client.around(() => meters[side].server.around(fn));
      ctx.step(`B9/B10/B11: ${S.rounds} round(s) × ${S.seconds} s each of REST and gRPC (32 and 1 in flight)`);
      const c32 = await interleaved(S.rounds, { rest: metered('rest', restPredict(32)), grpc: metered('grpc', grpcPredict(32)) });
      // B10 also against the gRPC floor: a bare grpc-js server answering a constant (as B2 against bare node:http).
      const c1 = await interleaved(S.rounds, { rest: restPredict(1), grpc: grpcPredict(1), bare: grpcPredict(1, bareGrpc) });
      const oip = await interleaved(S.rounds, { rest: restInfer(32), grpc: grpcInfer(32) });

      const reqRatio = (r: typeof c32) => medianOfRounds(r.rounds.grpc, r.rounds.rest, (g, h) => g.reqPerS / h.reqPerS);
      const p50Ratio = medianOfRounds(c1.rounds.grpc, c1.rounds.rest, (g, h) => g.p50Ms / h.p50Ms);
      const p50VsBare = medianOfRounds(c1.rounds.grpc, c1.rounds.bare, (g, b) => g.p50Ms / b.p50Ms);
      const r9 = reqRatio(c32);
      const r11 = reqRatio(oip);
      const perRound = (m: { perRound: number[] }) => m.perRound.map((v) => round(v, 3));
      // Warm-ups are inside the metered time but not in the counts: CPU per request slightly overstated, alike for both.
      const cpuUsPerRequest = (side: 'rest' | 'grpc', who: 'server' | 'client') =>
        round((meters[side][who].result(1).totalCpuS * 1e6) / c32.rounds[side].reduce((a, r) => a + r.count, 0), 0);
      const cpu = {
        serverUsPerRequest: { rest: cpuUsPerRequest('rest', 'server'), grpc: cpuUsPerRequest('grpc', 'server') },
        clientUsPerRequest: { rest: cpuUsPerRequest('rest', 'client'), grpc: cpuUsPerRequest('grpc', 'client') },
      };
      const common = { rounds: S.rounds, secondsPerRound: S.seconds, model: { name: MODEL.name, ...MODEL.yaml }, client: 'grpc-js, one channel, calls multiplexed; REST: node:http keep-alive, one connection per loop' };
      return [
        {
          id: 'B9',
          scenario: 'tiny MLP, gRPC Predictions vs REST, 32 in flight, req/s',
          server: `${fmt(c32.pooled.grpc.reqPerS, 0)} req/s gRPC`,
          baseline: `${fmt(c32.pooled.rest.reqPerS, 0)} req/s REST`,
          ratio: round(r9.median, 3),
          ratioText: `${fmt(r9.median, 2)}×`,
          target: 'report',
          details: {
            ...common,
            concurrency: 32,
            rest: row(c32.pooled.rest),
            grpc: row(c32.pooled.grpc),
            ratiosPerRound: perRound(r9),
            cpu,
            serverCpuDuringGrpcLoads: meters.grpc.server.result(),
            clientCpuDuringGrpcLoads: meters.grpc.client.result(3),
            serverCpuDuringRestLoads: meters.rest.server.result(),
            clientCpuDuringRestLoads: meters.rest.client.result(3),
          },
          notes: [
            `per round: ${perRound(r9).join(', ')}; server CPU µs/request: gRPC ${cpu.serverUsPerRequest.grpc}, REST ${cpu.serverUsPerRequest.rest}; ` +
              `client (bench process) CPU µs/request: gRPC ${cpu.clientUsPerRequest.grpc}, REST ${cpu.clientUsPerRequest.rest}`,
          ],
        },
        {
          id: 'B10',
          scenario: 'tiny MLP, gRPC Predictions vs REST, 1 in flight, p50',
          server: `${fmt(c1.pooled.grpc.p50Ms, 3)} ms gRPC`,
          baseline: `${fmt(c1.pooled.rest.p50Ms, 3)} ms REST`,
          ratio: round(p50Ratio.median, 3),
          ratioText: `${fmt(p50Ratio.median, 2)}×`,
          target: 'report',
          details: {
            ...common,
            concurrency: 1,
            rest: row(c1.pooled.rest),
            grpc: row(c1.pooled.grpc),
            bareGrpc: row(c1.pooled.bare),
            ratiosPerRound: perRound(p50Ratio),
            p50RatioVsBareGrpc: round(p50VsBare.median, 3),
            ratiosVsBareGrpcPerRound: perRound(p50VsBare),
          },
          notes: [`vs a bare grpc-js server answering a constant (${fmt(c1.pooled.bare.p50Ms, 3)} ms): ${fmt(p50VsBare.median, 2)}× (B2's REST is against bare node:http)`],
        },
        {
          id: 'B11',
          scenario: 'tiny MLP, OIP gRPC ModelInfer (raw) vs OIP REST binary, 32 in flight, req/s',
          server: `${fmt(oip.pooled.grpc.reqPerS, 0)} req/s gRPC`,
          baseline: `${fmt(oip.pooled.rest.reqPerS, 0)} req/s REST`,
          ratio: round(r11.median, 3),
          ratioText: `${fmt(r11.median, 2)}×`,
          target: 'report',
          details: { ...common, concurrency: 32, rest: row(oip.pooled.rest), grpc: row(oip.pooled.grpc), ratiosPerRound: perRound(r11) },
        },
      ];
    },
  );
}
