/** What each API surface's router receives: the request split the way TorchServe splits paths. */
import type { FastifyRequest } from 'fastify';
import type { HttpResult } from './reply.js';

export interface RouteContext {
  req: FastifyRequest;
  method: string;
  /** URL-decoded path segments without the leading empty one; trailing slashes ignored. */
  segments: string[];
  query: URLSearchParams;
}

export type Router = (ctx: RouteContext) => Promise<HttpResult>;

/** TorchServe (Java `split`): trailing empty segments are dropped, inner ones kept. */
export function splitPath(rawUrl: string): { segments: string[]; query: URLSearchParams } {
  const q = rawUrl.indexOf('?');
  const pathPart = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const query = new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : '');
  const segments = pathPart.split('/').slice(1).map(decodeSegment);
  while (segments.length > 0 && segments[segments.length - 1] === '') segments.pop();
  return { segments, query };
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
