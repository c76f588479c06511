/**
 * Model names created through the Wallaroo-style API (issue 8, part 6). The seed: "Model names map
 * onto Kubernetes objects, and must be DNS compliant. The strings for model names must be lower
 * case ASCII alpha-numeric characters or dash (-) only. `.` and `_` are not allowed."
 *
 * "DNS compliant" for a Kubernetes object name is an RFC 1123 label, so besides the character set
 * a name is 1–63 characters and starts and ends with a letter or digit (`-abc` cannot name a
 * Service). TorchServe's own API keeps its rule (letters, digits, `_`, `-`, `.`); this one only
 * applies to names given through `/v1/api/...`.
 */
import { badRequest, type ServeError } from '../errors.js';

/** The longest DNS label (RFC 1123), which Kubernetes applies to most object names. */
export const MAX_DNS_NAME_LENGTH = 63;

const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Why `name` is not a DNS-compliant model name, or undefined when it is. */
export function dnsNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'it is empty';
  if (name.length > MAX_DNS_NAME_LENGTH) return `it is longer than ${MAX_DNS_NAME_LENGTH} characters`;
  const bad = [...name].find((c) => !/[a-z0-9-]/.test(c));
  if (bad !== undefined) {
    const hint = /[A-Z]/.test(bad) ? ' (upper case)' : bad === '.' || bad === '_' ? ' ("." and "_" are not allowed)' : '';
    return `it contains ${JSON.stringify(bad)}${hint}`;
  }
  if (!DNS_LABEL.test(name)) return 'it must start and end with a lower case letter or digit';
  return undefined;
}

/** Lower case ASCII letters, digits and `-` only; 1–63 characters; no leading or trailing `-`. */
export function isDnsCompliantName(name: string): boolean {
  return dnsNameProblem(name) === undefined;
}

/** A 400 naming the rule, for a model name given through the Wallaroo-style API; undefined if fine. */
export function dnsNameError(name: string): ServeError | undefined {
  const why = dnsNameProblem(name);
  if (why === undefined) return undefined;
  return badRequest(
    `Invalid model name ${JSON.stringify(name)}: ${why}. Model names must be DNS compliant: lower case ASCII letters, digits and "-" only, at most ${MAX_DNS_NAME_LENGTH} characters, starting and ending with a letter or digit`,
  );
}
