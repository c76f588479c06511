/**
 * Token authorization as TorchServe ≥ 0.11 does it (spec §5): three keys — management,
 * inference (both expire after `token_expiration_min`) and API (never expires, only rotates the
 * other two) — written to `<cwd>/key_file.json` with mode 0600, sent as `Authorization: Bearer
 * <key>`. Keys are compared in constant time; the key file is replaced atomically so a reader
 * never sees half a file and its mode is never wider than 0600, even for an instant.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ServeError } from '../errors.js';

export type KeyType = 'management' | 'inference' | 'API';
export type ExpiringKeyType = Exclude<KeyType, 'API'>;

export const KEY_FILE_NAME = 'key_file.json';

const AUTHORIZATION_FAILED = 'Token Authorization failed. Token either incorrect, expired, or not provided correctly';
const AUTHENTICATION_FAILED = 'Token Authentication failed. Token either incorrect, expired, or not provided correctly';

/** The 400 (not 401) TorchServe answers for a missing, wrong or expired key. */
export const invalidKey = () => new ServeError(400, 'InvalidKeyException', AUTHORIZATION_FAILED);
/** The token API's own refusal (bad API key or `type`): note "Authentication". */
export const invalidTokenRequest = () => new ServeError(400, 'InvalidKeyException', AUTHENTICATION_FAILED);

/** TorchServe's header pattern: case-sensitive `Bearer`, one token, nothing after it. */
const BEARER = /^Bearer\s+(\S+)$/;

export function bearerToken(header: string | undefined): string {
  return (header === undefined ? undefined : BEARER.exec(header)?.[1]) ?? '';
}

/** 6 random bytes as URL-safe Base64: 8 characters of [A-Za-z0-9_-], like TorchServe's. */
function newKey(): string {
  return randomBytes(6).toString('base64url');
}

interface Key {
  value: string;
  /** ms since the epoch; undefined: never expires. */
  expiresAt?: number;
}

/** Constant-time equality whatever the lengths (a length mismatch still costs one comparison). */
function sameKey(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  if (a.length !== b.length) {
    timingSafeEqual(b, b);
    return false;
  }
  return timingSafeEqual(a, b);
}

export interface TokenAuthorityOptions {
  /** Folder of key_file.json (the server's working folder). */
  dir: string;
  /** `token_expiration_min`, may be fractional. */
  expirationMin: number;
  /** Clock, for tests. */
  now?: () => number;
}

export class TokenAuthority {
  readonly file: string;
  private readonly keys: Record<KeyType, Key>;
  private readonly now: () => number;

  private constructor(private readonly options: TokenAuthorityOptions) {
    this.file = path.join(path.resolve(options.dir), KEY_FILE_NAME);
    this.now = options.now ?? Date.now;
    this.keys = { management: this.fresh(), inference: this.fresh(), API: { value: newKey() } };
  }

  /** New keys, written to the key file (throws when it cannot be written). */
  static create(options: TokenAuthorityOptions): TokenAuthority {
    const authority = new TokenAuthority(options);
    authority.writeFile();
    return authority;
  }

  /** Whether `authorization` (the raw header) carries the current, unexpired key of `type`. */
  allows(type: KeyType, authorization: string | undefined): boolean {
    const key = this.keys[type];
    const token = bearerToken(authorization);
    // Compare first, then the clock: the work done does not depend on which part fails.
    const matches = sameKey(token, key.value);
    const live = key.expiresAt === undefined || this.now() < key.expiresAt;
    return matches && live && token !== '';
  }

  /** Which kind of key `authorization` carries (never the key itself), for the audit log. */
  presentedKey(authorization: string | undefined): KeyType | 'none' {
    for (const type of ['management', 'API', 'inference'] as const) if (this.allows(type, authorization)) return type;
    return 'none';
  }

  /** `/token?type=…`: a new key (and expiry) for `type`, written to the key file. */
  rotate(type: ExpiringKeyType): void {
    this.keys[type] = this.fresh();
    this.writeFile();
  }

  /** The key file's content: Gson pretty JSON, TorchServe's member names and order. */
  keyFileJson(): string {
    const iso = (k: Key) => new Date(k.expiresAt ?? 0).toISOString();
    const doc = {
      management: { key: this.keys.management.value, 'expiration time': iso(this.keys.management) },
      inference: { key: this.keys.inference.value, 'expiration time': iso(this.keys.inference) },
      API: { key: this.keys.API.value },
    };
    return JSON.stringify(doc, null, 2);
  }

  private fresh(): Key {
    return { value: newKey(), expiresAt: this.now() + this.options.expirationMin * 60_000 };
  }

  /** Writes a private temp file beside the key file and renames it over (atomic, never world-readable). */
  private writeFile(): void {
    const tmp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      fs.writeFileSync(tmp, this.keyFileJson(), { mode: 0o600, flag: 'wx' });
      fs.chmodSync(tmp, 0o600); // the umask cannot widen it, but a pre-existing ACL default might
      fs.renameSync(tmp, this.file);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  }
}

/** TorchServe's start-up banner (its text, "documenation" included). */
export function tokenBanner(file: string): string {
  return (
    '\n######\n' +
    'TorchServe now enforces token authorization by default.\n' +
    'This requires the correct token to be provided when calling an API.\n' +
    `Key file located at ${file}\n` +
    'Check token authorization documenation for information: https://github.com/pytorch/serve/blob/master/docs/token_authorization_api.md \n' +
    '######\n'
  );
}
