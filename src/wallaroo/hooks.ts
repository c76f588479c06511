/**
 * Glue for the integrator: registry events → catalog, so the wiring in app.ts stays a few lines.
 * Takes the registry's ModelVersion structurally (name, version, url, sha256) to keep this
 * directory free of registry imports.
 */
import path from 'node:path';
import type { ModelCatalog, VersionStatus } from './catalog.js';

export interface RegisteredVersion {
  readonly name: string;
  readonly version: string;
  /** The register call's `url`: a model-store file name, a path, or an http(s) URL. */
  readonly url: string;
  /** SHA-256 of the archive (ModelVersion.sha256, from registry/integrity.ts). */
  readonly sha256?: string;
}

/** The archive's file name as Wallaroo's `file_name` shows it: the last path segment, no query. */
export function archiveFileName(url: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      const last = new URL(url).pathname.split('/').filter(Boolean).pop();
      if (last) return decodeURIComponent(last);
    } catch {
      // not a URL after all: fall through to a path
    }
  }
  return path.basename(url) || url;
}

/**
 * Records a registered version; false (nothing recorded) when its SHA-256 is unknown, so a
 * registration never fails because of the catalog.
 */
export function recordRegistered(catalog: ModelCatalog, v: RegisteredVersion, status: VersionStatus = 'ready'): boolean {
  if (v.sha256 === undefined) return false;
  catalog.recordVersion({ model: v.name, version: v.version, fileName: archiveFileName(v.url), sha256: v.sha256, status });
  return true;
}
