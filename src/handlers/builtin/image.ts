/**
 * Image decoding and torchvision-style preprocessing for the built-in vision handlers.
 *
 * Decoding is sharp (libvips): JPEG, PNG and WebP only (checked by magic bytes before sharp sees
 * the bytes, so SVG/TIFF/GIF/HEIF decoders are never reached), alpha dropped, converted to 8-bit
 * sRGB. Geometry follows torchvision: `Resize(int)` scales the shorter side (the longer one is
 * `int(size * long / short)`), `Resize([h, w])` resizes exactly, `CenterCrop` takes the offset
 * `int(round((in - out) / 2))` (Python's round half to even) and pads with black when the crop is
 * larger than the image. `ToTensor` + `Normalize` are done in float32 steps, as torch does.
 */
import sharp from 'sharp';
import type { Size, SizeSetting } from './config.js';

export type ImageFormat = 'jpeg' | 'png' | 'webp';
export const EXPECTED_FORMATS = 'JPEG, PNG or WebP';
export type Interpolation = 'bilinear' | 'bicubic' | 'nearest';
export const INTERPOLATIONS: readonly Interpolation[] = ['bilinear', 'bicubic', 'nearest'];
const KERNEL: Record<Interpolation, 'linear' | 'cubic' | 'nearest'> = { bilinear: 'linear', bicubic: 'cubic', nearest: 'nearest' };

/** A request input that is not a usable image: becomes a 400 BadRequestException. */
export class ImageInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageInputError';
  }
}

export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  const at = (i: number, ...values: number[]) => values.every((v, k) => bytes[i + k] === v);
  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (at(0, 0x52, 0x49, 0x46, 0x46) && at(8, 0x57, 0x45, 0x42, 0x50)) return 'webp';
  return undefined;
}

/** 8-bit RGB pixels, interleaved (HWC). */
export interface RgbImage {
  width: number;
  height: number;
  pixels: Uint8Array;
}

export interface DecodeOptions {
  /** Request input name, for messages (`data`, `body`, ...). */
  inputName: string;
  /** Refuse images with more pixels than this (sharp's limitInputPixels, checked on the header first). */
  maxPixels: number;
  interpolation: Interpolation;
}

export interface DecodedImage extends RgbImage {
  /** Size of the image as sent, before any resize. */
  original: Size;
}

/** sharp/libvips' reason, on one line, without a dangling colon, at most 200 characters. */
const firstLine = (e: unknown): string =>
  [...new Set((e instanceof Error ? e.message : String(e)).split('\n').map((l) => l.replace(/\s+/g, ' ').trim()))]
    .filter(Boolean)
    .join(' ')
    .slice(0, 400)
    .replace(/(.{8,}?)(?: \1)+/g, '$1') // libvips repeats a warning once per scanline
    .replace(/:$/, '')
    .slice(0, 200);

function notAnImage(inputName: string, why?: string): ImageInputError {
  return new ImageInputError(`Input "${inputName}" is not a decodable image (expected ${EXPECTED_FORMATS})${why ? `: ${why}` : ''}`);
}

/**
 * Decodes `bytes` and resizes to the size `target(original)` returns (undefined: keep the size).
 * Every failure (empty, unknown format, too many pixels, truncated or corrupt data) is an
 * ImageInputError with a message fit for the client.
 */
export async function decodeImage(
  bytes: Uint8Array,
  options: DecodeOptions,
  target: (original: Size) => Size | undefined,
): Promise<DecodedImage> {
  const { inputName, maxPixels } = options;
  if (bytes.length === 0) throw new ImageInputError(`Input "${inputName}" is empty (expected a ${EXPECTED_FORMATS} image)`);
  const format = sniffFormat(bytes);
  if (!format) throw notAnImage(inputName);
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const open = () => sharp(input, { limitInputPixels: maxPixels, failOn: 'error', animated: false });

  let width: number | undefined;
  let height: number | undefined;
  let hasAlpha = false;
  try {
    const meta = await sharp(input, { limitInputPixels: false }).metadata();
    if (meta.format !== format) throw new Error(`unexpected format ${meta.format}`);
    width = meta.width;
    height = meta.height;
    hasAlpha = meta.hasAlpha;
  } catch (e) {
    throw notAnImage(inputName, firstLine(e));
  }
  if (!width || !height) throw notAnImage(inputName, 'no image size in the header');
  if (width * height > maxPixels) {
    throw new ImageInputError(
      `Input "${inputName}" is too large: ${width}x${height} = ${width * height} pixels, more than the limit of ${maxPixels} (model-config.yaml handler.max_image_pixels)`,
    );
  }
  const original: Size = { width, height };
  const size = target(original);
  try {
    let pipeline = open().removeAlpha().toColourspace('srgb');
    if (hasAlpha) {
      // libvips resizes premultiplied by alpha (a transparent pixel turns black): drop the alpha
      // channel first, like PIL's convert('RGB'), then resize the RGB pixels.
      const rgb = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      pipeline = sharp(rgb.data, { raw: { width: rgb.info.width, height: rgb.info.height, channels: rgb.info.channels } });
    }
    if (size && (size.width !== width || size.height !== height)) {
      pipeline = pipeline.resize({
        width: size.width,
        height: size.height,
        fit: 'fill',
        kernel: KERNEL[options.interpolation],
        fastShrinkOnLoad: false,
      });
    }
    const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.channels !== 3 || data.length !== info.width * info.height * 3) {
      throw new Error(`decoded to ${info.channels} channels, ${info.width}x${info.height}`);
    }
    return { width: info.width, height: info.height, pixels: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), original };
  } catch (e) {
    throw notAnImage(inputName, firstLine(e));
  }
}

/** Python's round() on halves: to the nearest even integer. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision `Resize(size)` output size for an input of `original` size. */
export function resizedSize(original: Size, resize: SizeSetting): Size {
  if (resize.kind === 'exact') return resize.size;
  const { width: w, height: h } = original;
  const s = resize.size;
  if (w <= h) return { width: s, height: Math.max(1, Math.floor((s * h) / w)) };
  return { width: Math.max(1, Math.floor((s * w) / h)), height: s };
}

/** torchvision `CenterCrop` offsets (negative when the crop is larger: black padding). */
export function cropOrigin(image: Size, crop: Size): { left: number; top: number } {
  const offset = (inSize: number, outSize: number) =>
    outSize > inSize ? -Math.floor((outSize - inSize) / 2) : roundHalfEven((inSize - outSize) / 2);
  return { left: offset(image.width, crop.width), top: offset(image.height, crop.height) };
}

export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}

/**
 * HWC uint8 → CHW float32, cropping (`crop`, else the whole image) and normalising as
 * `(fround(v / 255) - mean) / std` in float32, like torchvision's ToTensor + Normalize.
 */
export function toChw(image: RgbImage, norm: Normalization, crop?: Size): { data: Float32Array; height: number; width: number } {
  const out = crop ?? { width: image.width, height: image.height };
  const { left, top } = crop ? cropOrigin(image, crop) : { left: 0, top: 0 };
  const plane = out.width * out.height;
  const data = new Float32Array(3 * plane);
  const lut = [0, 1, 2].map((c) => {
    const mean = Math.fround(norm.mean[c] ?? 0);
    const std = Math.fround(norm.std[c] ?? 1);
    return Float32Array.from({ length: 256 }, (_, v) => Math.fround(Math.fround(Math.fround(v / 255) - mean) / std));
  }) as [Float32Array, Float32Array, Float32Array];
  for (let y = 0; y < out.height; y++) {
    const sy = y + top;
    const rowInside = sy >= 0 && sy < image.height;
    for (let x = 0; x < out.width; x++) {
      const sx = x + left;
      const o = y * out.width + x;
      const inside = rowInside && sx >= 0 && sx < image.width;
      const i = (sy * image.width + sx) * 3;
      for (let c = 0; c < 3; c++) data[c * plane + o] = lut[c as 0 | 1 | 2][inside ? image.pixels[i + c]! : 0]!;
    }
  }
  return { data, height: out.height, width: out.width };
}
