/**
 * Listener addresses, parsed like TorchServe's `Connector.parse` with `ConfigManager.ADDRESS_PATTERN`:
 * `(https|http)://host[:port]` (host without `:`, `^` or `/`, so no IPv6 literals and no path)
 * or `unix:/path`, scheme case-insensitive.
 */
import { StartupError } from '../errors.js';
import type { BindAddress } from './types.js';

const ADDRESS_PATTERN = /^(?:(?<scheme>https|http):\/\/(?<host>[^:^/]+)(?::(?<port>[0-9]+))?|unix:(?<path>\/.*))$/i;

/** Port used when the address has none; keyed like TorchServe's ConnectorType switch. */
const DEFAULT_PORTS: Readonly<Record<string, { http: number; https: number }>> = {
  management_address: { http: 8081, https: 8444 },
  metrics_address: { http: 8082, https: 8445 },
};
// Anything else (inference_address) falls to Connector's default branch: plain 80 / 443.
const FALLBACK_PORTS = { http: 80, https: 443 };

/**
 * Parses the value of an `*_address` key. Unix sockets get host `''` and port -1 (as Connector does).
 * Port 0 is accepted (bind to any free port). TorchServe itself rejects 65535 through an
 * off-by-one (`port >= Short.MAX_VALUE * 2 + 1`); we accept the full 0..65535 range.
 */
export function parseBindAddress(key: string, value: string): BindAddress {
  const m = ADDRESS_PATTERN.exec(value);
  const g = m?.groups;
  if (!g) throw new StartupError(`Invalid configuration: Invalid binding address: ${value} (${key})`);
  if (g.path !== undefined) return { scheme: 'unix', host: '', port: -1, path: g.path, raw: value };

  const scheme = (g.scheme ?? 'http').toLowerCase() === 'https' ? 'https' : 'http';
  const defaults = DEFAULT_PORTS[key] ?? FALLBACK_PORTS;
  const port = g.port === undefined ? defaults[scheme] : Number(g.port);
  if (port > 65535) throw new StartupError(`Invalid configuration: Invalid port number: ${value} (${key})`);
  return { scheme, host: g.host ?? '', port, raw: value };
}
