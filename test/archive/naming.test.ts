import { describe, expect, it } from 'vitest';
import { isValidModelName, modelNameFromFile } from '../../src/archive/naming.js';

describe('modelNameFromFile', () => {
  it.each([
    ['resnet-18.mar', 'resnet_18'],
    ['x.tar.gz', 'x_tar_gz'],
    ['squeezenet1_1.mar', 'squeezenet1_1'],
    ['bert.v2.mar', 'bert_v2'],
    ['legacy.model', 'legacy'],
    ['/store/sub/my-model.mar', 'my_model'],
    ['folder-model', 'folder_model'],
    ['résumé.mar', 'r_sum_'],
    ['_private.mar', '_private'],
    ['noext', 'noext'],
  ])('%s → %s', (file, name) => {
    expect(modelNameFromFile(file)).toBe(name);
  });
});

describe('isValidModelName', () => {
  it.each(['resnet-18', 'a.b_c', '1abc', 'A'])('accepts %s', (name) => {
    expect(isValidModelName(name)).toBe(true);
  });

  it.each(['', '_a', '-a', '.a', 'a b', 'a/b', 'a\n', 'ä'])('refuses %j', (name) => {
    expect(isValidModelName(name)).toBe(false);
  });
});
