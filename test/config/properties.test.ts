import { describe, it, expect } from 'vitest';
import { parseProperties, stringifyProperties, PropertiesSyntaxError } from '../../src/config/properties.js';

describe('parseProperties', () => {
  it('reads the three separators, with whitespace around them skipped', () => {
    expect(parseProperties('a=1\nb:2\nc 3\nd = 4\ne : 5\nf\t\t6\ng \t=\t 7')).toEqual({
      a: '1',
      b: '2',
      c: '3',
      d: '4',
      e: '5',
      f: '6',
      g: '7',
    });
  });

  it('splits at the first separator only; later ones belong to the value', () => {
    expect(parseProperties('url=http://x:80/a=b')).toEqual({ url: 'http://x:80/a=b' });
    expect(parseProperties('k = = v')).toEqual({ k: '= v' }); // only one `=` is a separator
    expect(parseProperties('k  :=v')).toEqual({ k: '=v' });
    expect(parseProperties('k v w')).toEqual({ k: 'v w' });
  });

  it('keeps trailing whitespace of values but not leading whitespace of lines', () => {
    expect(parseProperties('   \t key=value  ')).toEqual({ key: 'value  ' });
  });

  it('gives an empty value to a key without separator or value', () => {
    expect(parseProperties('lonely\nalso=\nmore:')).toEqual({ lonely: '', also: '', more: '' });
  });

  it('skips comments (# or !, after leading blanks) and blank lines', () => {
    const text = '# comment\n  ! bang comment\n\n   \n\t\na=1\n#b=2\nc=3 # not a comment';
    expect(parseProperties(text)).toEqual({ a: '1', c: '3 # not a comment' });
  });

  it('accepts \\n, \\r\\n and \\r line endings', () => {
    expect(parseProperties('a=1\r\nb=2\rc=3\n')).toEqual({ a: '1', b: '2', c: '3' });
  });

  it('lets later keys win', () => {
    expect(parseProperties('a=1\na=2')).toEqual({ a: '2' });
  });

  it('joins continuation lines and drops the continued line leading whitespace', () => {
    expect(parseProperties('fruits = apple, \\\n         banana, \\\n\t pear\nnext=1')).toEqual({
      fruits: 'apple, banana, pear',
      next: '1',
    });
    expect(parseProperties('a=x\\\r\n  y')).toEqual({ a: 'xy' });
  });

  it('continues only on an odd number of trailing backslashes', () => {
    expect(parseProperties('a=x\\\\\nb=y')).toEqual({ a: 'x\\', b: 'y' });
    expect(parseProperties('a=x\\\\\\\ny')).toEqual({ a: 'x\\y' });
  });

  it('ends a continued line at a blank line and at end of input', () => {
    expect(parseProperties('a=x\\\n   \nb=y')).toEqual({ a: 'x', b: 'y' });
    expect(parseProperties('a=x\\')).toEqual({ a: 'x' });
  });

  it('does not treat a # on a continuation line as a comment, nor continue a comment line', () => {
    expect(parseProperties('a=x\\\n  #y')).toEqual({ a: 'x#y' });
    expect(parseProperties('# comment \\\nb=1')).toEqual({ b: '1' });
  });

  it('lets a continuation line supply the key/value separator', () => {
    expect(parseProperties('key\\\n  = value')).toEqual({ key: 'value' });
  });

  it('resolves \\t \\n \\r \\f \\\\ and \\uXXXX escapes', () => {
    expect(parseProperties('a=1\\t2\\n3\\r4\\f5\\\\6')).toEqual({ a: '1\t2\n3\r4\f5\\6' });
    expect(parseProperties('u=caf\\u00e9 \\u00E9 \\uD83D\\uDE00')).toEqual({ u: 'café é 😀' });
  });

  it('yields the char itself for a backslash before anything else', () => {
    expect(parseProperties('a\\:b\\=c\\ d=v\\q\\#')).toEqual({ 'a:b=c d': 'vq#' });
    expect(parseProperties('\\#notcomment=1')).toEqual({ '#notcomment': '1' });
    expect(parseProperties('k=\\ leading')).toEqual({ k: ' leading' });
  });

  it('escapes in keys hide separators but escaped backslashes do not', () => {
    expect(parseProperties('a\\\\=b')).toEqual({ 'a\\': 'b' });
    expect(parseProperties('a\\ b c')).toEqual({ 'a b': 'c' });
  });

  it('rejects a malformed \\u escape', () => {
    expect(() => parseProperties('a=\\u12')).toThrow(PropertiesSyntaxError);
    expect(() => parseProperties('a=\\u12zz')).toThrow('Malformed \\uxxxx encoding.');
  });

  it('keeps keys such as __proto__ as data', () => {
    const p = parseProperties('__proto__=x\nconstructor=y');
    expect(Object.keys(p)).toEqual(['__proto__', 'constructor']);
    expect(p.__proto__).toBe('x');
  });

  it('reads a TorchServe config.properties', () => {
    const text = [
      'inference_address=http://0.0.0.0:8080',
      'management_address=http://0.0.0.0:8081',
      'number_of_netty_threads=32',
      'job_queue_size=1000',
      'model_store=/home/model-server/model-store',
      'models={\\',
      '  "noop": {\\',
      '    "1.0": {"minWorkers": 1, "maxWorkers": 1}\\',
      '  }\\',
      '}',
    ].join('\n');
    const p = parseProperties(text);
    expect(p.models).toBe('{"noop": {"1.0": {"minWorkers": 1, "maxWorkers": 1}}}');
    expect(JSON.parse(p.models as string)).toEqual({ noop: { '1.0': { minWorkers: 1, maxWorkers: 1 } } });
    expect(p.job_queue_size).toBe('1000');
  });
});

describe('stringifyProperties', () => {
  it('escapes like Properties.store', () => {
    const out = stringifyProperties({
      'a key': ' lead and inner space',
      'k:=#!': 'v:=#!',
      back: 'c:\\dir',
      ctl: 'tab\there\nnl\rcr\fff',
      uni: 'café😀',
      plain: 'http(s)?://.*',
    });
    expect(out).toBe(
      [
        'a\\ key=\\ lead and inner space',
        'k\\:\\=\\#\\!=v\\:\\=\\#\\!',
        'back=c\\:\\\\dir',
        'ctl=tab\\there\\nnl\\rcr\\fff',
        'uni=caf\\u00E9\\uD83D\\uDE00',
        'plain=http(s)?\\://.*',
        '',
      ].join('\n'),
    );
  });

  it('writes comment lines first', () => {
    expect(stringifyProperties({ a: '1' }, 'first\nsecond')).toBe('#first\n#second\na=1\n');
  });

  it('round-trips through parseProperties', () => {
    const props: Record<string, string> = {
      '': 'empty key',
      empty: '',
      ' spaced key ': '  spaced value  ',
      '#hash': '!bang',
      '!bang': '#hash',
      'a=b:c': 'd=e:f',
      'back\\slash': 'ends with backslash\\',
      twoback: '\\\\',
      ctl: '\t\n\r\f\u0000\u001f\u007f',
      uni: 'ünïcödé 日本 😀',
      json: '{"m": {"1.0": {"minWorkers": 1}}}',
      url: 'file://.*|http(s)?://.*',
      trailingTab: 'x\t',
    };
    expect(parseProperties(stringifyProperties(props, 'snapshot'))).toEqual(props);
  });
});
