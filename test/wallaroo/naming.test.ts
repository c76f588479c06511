/** Part 6: the seed's DNS-compliant model name rule. */
import { describe, expect, it } from 'vitest';
import { dnsNameError, dnsNameProblem, isDnsCompliantName } from '../../src/wallaroo/naming.js';

describe('isDnsCompliantName', () => {
  it.each(['api-upload-pytorch-multi-io', 'api-sample-model', 'ccfraud', 'm', '0', 'model-2', 'a'.repeat(63)])('accepts %s', (name) => {
    expect(isDnsCompliantName(name)).toBe(true);
    expect(dnsNameError(name)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['my_model', /"_" \(".+" and "_" are not allowed\)/],
    ['my.model', /"\." \(".+" and "_" are not allowed\)/],
    ['MyModel', /"M" \(upper case\)/],
    ['model 1', /contains " "/],
    ['modèle', /contains "è"/],
    ['-model', /start and end with a lower case letter or digit/],
    ['model-', /start and end/],
    ['a'.repeat(64), /longer than 63/],
  ])('refuses %j', (name, why) => {
    expect(isDnsCompliantName(name)).toBe(false);
    expect(dnsNameProblem(name)).toMatch(why);
    const err = dnsNameError(name);
    expect(err).toMatchObject({ status: 400, type: 'BadRequestException' });
    expect(err?.message).toMatch(/DNS compliant: lower case ASCII letters, digits and "-" only/);
  });
});
