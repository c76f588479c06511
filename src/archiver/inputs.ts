/**
 * Which files go into the archive, and under which names, following torch-model-archiver's
 * `copy_artifacts` + `archive_dir` (spec §7.1, §7.4): every artifact lands at the archive root
 * under its base name, in the order model file, serialized file, handler, extra files,
 * requirements file, config file (a later file replaces an earlier one of the same name); an
 * extra directory contributes its contents; directories named `__MACOSX`, `__pycache__` or
 * starting with `.` are left out at every level below it. Nothing is copied: the writers read
 * the sources directly.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MANIFEST_PATH } from '../archive/index.js';
import { ArchiverError, extraFileMissing, noSuchFile } from './errors.js';

export interface ArchiveEntry {
  /** Path inside the archive (POSIX separators, relative). */
  name: string;
  /** Absolute path of the file to read. */
  source: string;
  size: number;
  mode: number;
  mtime: Date;
}

export interface ArtifactPaths {
  modelFile?: string;
  serializedFile?: string;
  /** The handler module file to copy (already resolved; undefined for built-in names). */
  handlerFile?: string;
  extraFiles?: string;
  requirementsFile?: string;
  configFile?: string;
}

export interface CollectedInputs {
  entries: ArchiveEntry[];
  totalBytes: number;
  warnings: string[];
}

const UNWANTED_DIRS = new Set(['__MACOSX', '__pycache__']);

/** torch-model-archiver's `directory_filter`. */
export const isExcludedDir = (name: string): boolean => UNWANTED_DIRS.has(name) || name.startsWith('.');

const hasMagic = (p: string): boolean => /[*?[]/.test(p);

/** Python's fnmatch.translate for one path segment (`*`, `?`, `[seq]`, `[!seq]`). */
function segmentRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      re += `[${negate ? '^' : ''}${body.replace(/\\/g, '\\\\').replace(/\^/g, '\\^')}]`;
      i = close;
    } else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

function statOrUndefined(p: string): fs.Stats | undefined {
  return fs.statSync(p, { throwIfNoEntry: false });
}

/**
 * Python's `glob.glob(pattern)` (non-recursive; `*` and `?` do not match a leading dot), relative
 * to `cwd`; results keep the pattern's form (relative stays relative) and are sorted.
 */
export function globPaths(pattern: string, cwd: string): string[] {
  const absolute = pattern.startsWith('/');
  const segments = pattern.split('/').filter((s, i) => s !== '' || i === 0);
  let current: string[] = [absolute ? '/' : ''];
  if (absolute) segments.shift();
  for (const [index, seg] of segments.entries()) {
    const last = index === segments.length - 1;
    const next: string[] = [];
    for (const base of current) {
      const baseDir = path.resolve(cwd, base === '' ? '.' : base);
      if (!hasMagic(seg)) {
        const candidate = base === '' ? seg : path.posix.join(base, seg);
        const st = statOrUndefined(path.resolve(cwd, candidate));
        if (st && (last || st.isDirectory())) next.push(candidate);
        continue;
      }
      let names: string[];
      try {
        names = fs.readdirSync(baseDir);
      } catch {
        continue;
      }
      const re = segmentRegex(seg);
      for (const name of names) {
        if (name.startsWith('.') && !seg.startsWith('.')) continue;
        if (!re.test(name)) continue;
        const candidate = base === '' ? name : path.posix.join(base, name);
        if (!last && !statOrUndefined(path.resolve(cwd, candidate))?.isDirectory()) continue;
        next.push(candidate);
      }
    }
    current = next;
  }
  return current.sort();
}

class EntrySet {
  private readonly byName = new Map<string, ArchiveEntry>();
  readonly warnings: string[] = [];

  add(name: string, source: string, st: fs.Stats): void {
    if (name === MANIFEST_PATH) {
      this.warnings.push(`${source} is left out: ${MANIFEST_PATH} is written by the archiver`);
      return;
    }
    const previous = this.byName.get(name);
    if (previous && previous.source !== source) {
      this.warnings.push(`${name}: ${source} replaces ${previous.source} (same name in the archive)`);
    }
    this.byName.set(name, { name, source, size: st.size, mode: st.mode & 0o7777, mtime: st.mtime });
  }

  /** Sorted by name, so archives do not depend on directory listing order. */
  list(): ArchiveEntry[] {
    return [...this.byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

/** A single artifact (`shutil.copy(path, staging)`): must be an existing regular file. */
function addArtifact(set: EntrySet, given: string, flag: string, cwd: string): void {
  const abs = path.resolve(cwd, given);
  const st = statOrUndefined(abs);
  if (!st) throw noSuchFile(given);
  if (st.isDirectory()) throw new ArchiverError(`${flag} ${given} is a directory; a file is expected`);
  if (!st.isFile()) throw new ArchiverError(`${flag} ${given} is not a regular file`);
  set.add(path.basename(abs), abs, st);
}

/** `shutil.copytree` of `dir` to `prefix/` (symlinks followed, loops skipped), filtered as `archive_dir`. */
function addTree(set: EntrySet, dir: string, prefix: string, seen: Set<string>): void {
  const real = fs.realpathSync(dir);
  if (seen.has(real)) {
    set.warnings.push(`${dir} is left out: a symbolic link loop`);
    return;
  }
  seen.add(real);
  for (const name of fs.readdirSync(dir).sort()) {
    const src = path.join(dir, name);
    const st = statOrUndefined(src);
    if (!st) continue; // a dangling link: shutil.copytree would fail; there is nothing to copy
    const inArchive = prefix === '' ? name : `${prefix}/${name}`;
    if (st.isDirectory()) {
      if (!isExcludedDir(name)) addTree(set, src, inArchive, seen);
    } else if (st.isFile()) {
      set.add(inArchive, src, st);
    }
  }
  seen.delete(real);
}

/** One `--extra-files` match: a file goes to the root, a directory's contents do. */
function addExtra(set: EntrySet, shown: string, cwd: string): void {
  const abs = path.resolve(cwd, shown);
  const st = statOrUndefined(abs);
  if (!st) throw extraFileMissing(shown);
  if (st.isFile()) {
    set.add(path.basename(abs), abs, st);
  } else if (st.isDirectory()) {
    const seen = new Set<string>([fs.realpathSync(abs)]);
    for (const name of fs.readdirSync(abs).sort()) {
      const src = path.join(abs, name);
      const child = statOrUndefined(src);
      if (!child) continue;
      if (child.isFile()) set.add(name, src, child);
      // Top-level children are copied with copytree, then filtered by the archive walk.
      else if (child.isDirectory() && !isExcludedDir(name)) addTree(set, src, name, seen);
    }
  } else {
    throw new ArchiverError(`Invalid extra file given ${shown}`);
  }
}

/** Splits `--extra-files` (comma list; spaces around items are ignored, empty items skipped). */
export function splitExtraFiles(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export function collectInputs(paths: ArtifactPaths, cwd: string): CollectedInputs {
  const set = new EntrySet();
  if (paths.modelFile) addArtifact(set, paths.modelFile, '--model-file', cwd);
  if (paths.serializedFile) addArtifact(set, paths.serializedFile, '--serialized-file', cwd);
  if (paths.handlerFile) addArtifact(set, paths.handlerFile, '--handler', cwd);
  if (paths.extraFiles) {
    for (const item of splitExtraFiles(paths.extraFiles)) {
      if (hasMagic(item) && !statOrUndefined(path.resolve(cwd, item))) {
        const matches = globPaths(item, cwd);
        // torch-model-archiver checks existence before globbing: a pattern that names nothing fails.
        if (matches.length === 0) throw extraFileMissing(item);
        for (const m of matches) addExtra(set, m, cwd);
      } else {
        addExtra(set, item, cwd);
      }
    }
  }
  if (paths.requirementsFile) addArtifact(set, paths.requirementsFile, '--requirements-file', cwd);
  if (paths.configFile) addArtifact(set, paths.configFile, '--config-file', cwd);
  const entries = set.list();
  return { entries, totalBytes: entries.reduce((n, e) => n + e.size, 0), warnings: set.warnings };
}
