#!/usr/bin/env node
/**
 * Container health check for onnxserve (Docker HEALTHCHECK, or a Kubernetes exec probe when token
 * authorization is on):
 *
 *   node healthcheck.mjs [ROUTE] [--live]      ROUTE: /ping (default), /v2/health/ready, /v2/health/live
 *
 * Token authorization is on by default and covers /ping and /v2/health/* (as in TorchServe), so an
 * HTTP probe cannot pass; this script can: it reads the inference key from key_file.json in the
 * working folder (ONNXSERVE_KEY_FILE moves it) at every run, so a key rotated through
 * `/token?type=inference` is picked up. With authorization off there is no key file and nothing is sent.
 *
 * Where: ONNXSERVE_HEALTHCHECK_URL (e.g. http://127.0.0.1:9000), else TS_INFERENCE_ADDRESS (the
 * image's config has enable_envvars_config=true, so that env var moves the server too; 0.0.0.0 is
 * checked on 127.0.0.1), else http://127.0.0.1:8080. https is checked without verifying the
 * certificate (it is the server's own loopback); unix:/path addresses work too.
 *
 * Exit 0 when the route answers 200. `--live` (liveness): any answer that is not a 5xx counts —
 * the process is up and serving HTTP — so an expired or missing key never gets a pod restarted.
 * Otherwise exit 1, with one line saying why (an expired inference key is named as such).
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const args = process.argv.slice(2);
const live = args.includes('--live');
const route = args.find((a) => a.startsWith('/')) ?? '/ping';
const TIMEOUT_MS = Number(process.env.ONNXSERVE_HEALTHCHECK_TIMEOUT_MS ?? 4000);

function target() {
  const raw = process.env.ONNXSERVE_HEALTHCHECK_URL || process.env.TS_INFERENCE_ADDRESS || 'http://127.0.0.1:8080';
  if (raw.startsWith('unix:')) return { socketPath: raw.slice('unix:'.length), protocol: 'http:', hostname: 'localhost', port: undefined };
  const u = new URL(raw);
  const hostname = u.hostname === '0.0.0.0' || u.hostname === '' ? '127.0.0.1' : u.hostname;
  const port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  return { protocol: u.protocol, hostname, port, socketPath: undefined };
}

function inferenceKey() {
  const file = process.env.ONNXSERVE_KEY_FILE || 'key_file.json';
  let text;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // authorization off (no key file), or another working folder
  }
  try {
    const doc = JSON.parse(text);
    const key = doc?.inference?.key;
    const expires = Date.parse(doc?.inference?.['expiration time'] ?? '');
    return typeof key === 'string' ? { key, expired: Number.isFinite(expires) && expires <= Date.now(), expires: doc.inference['expiration time'] } : undefined;
  } catch {
    return undefined;
  }
}

function done(code, line) {
  process.stdout.write(`${line}\n`);
  process.exit(code);
}

const t = target();
const key = inferenceKey();
const client = t.protocol === 'https:' ? https : http;
const req = client.request(
  {
    method: 'GET',
    path: route,
    hostname: t.hostname,
    port: t.port,
    socketPath: t.socketPath,
    headers: key ? { authorization: `Bearer ${key.key}` } : {},
    rejectUnauthorized: false,
    timeout: TIMEOUT_MS,
  },
  (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (d) => {
      if (body.length < 4096) body += d;
    });
    res.on('end', () => {
      const status = res.statusCode ?? 0;
      const text = body.replace(/\s+/g, ' ').trim().slice(0, 200);
      if (status === 200) done(0, `${route}: 200 ${text}`);
      if (live && status < 500) done(0, `${route}: ${status} (alive: the server answers) ${text}`);
      if (status === 400 && /InvalidKeyException/.test(body)) {
        const why = !key
          ? `no inference key (token authorization is on and ${process.env.ONNXSERVE_KEY_FILE || './key_file.json'} was not found)`
          : key.expired
            ? `the inference key expired at ${key.expires}: rotate it (GET /token?type=inference with the API key) or raise token_expiration_min`
            : 'the inference key was refused';
        done(1, `${route}: 400 ${why}`);
      }
      done(1, `${route}: ${status} ${text}`);
    });
  },
);
req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
req.on('error', (err) => done(1, `${route}: ${err.message}`));
req.end();
