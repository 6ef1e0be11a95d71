// The webhook URL policy on text (creation time) and on addresses (connect time). Nothing here opens
// a socket: these are the rules alone; http-client.test.ts shows them holding on a real connection.
import { describe, expect, it } from 'vitest';
import { addressVerdict, checkWebhookUrl } from '../../src/webhooks/url-policy.js';

const strict = { allowPrivateUrls: false };
const lenient = { allowPrivateUrls: true };

const problemOf = (text: string, policy = strict) => {
  const checked = checkWebhookUrl(text, policy);
  return checked.ok ? null : checked.problem;
};

describe('checkWebhookUrl', () => {
  it('accepts a public https URL and gives back its normalised form', () => {
    const checked = checkWebhookUrl('https://Example.com/hook?team=1', strict);
    expect(checked).toMatchObject({ ok: true });
    expect(checked.ok && checked.url.href).toBe('https://example.com/hook?team=1');
    expect(problemOf('https://hooks.example.com:8443/a/b', strict)).toBeNull();
    expect(problemOf('https://[2606:4700:4700::1111]/hook', strict)).toBeNull();
    expect(problemOf('https://93.184.215.14/hook', strict)).toBeNull();
  });

  it.each([
    ['https://127.0.0.1/hook', 'a loopback address'],
    ['https://10.0.0.1/', 'a private address'],
    ['https://172.16.5.4/', 'a private address'],
    ['https://192.168.1.1/', 'a private address'],
    ['https://100.64.0.1/', 'a carrier-grade NAT address'],
    ['https://0.0.0.0/', 'an unspecified address'],
    ['https://[::1]/', 'a loopback address'],
    ['https://[::]/', 'an unspecified address'],
    ['https://[fc00::1]/', 'a unique local address'],
    ['https://[fd12:3456::1]/', 'a unique local address'],
    ['https://localhost/', 'a loopback address'],
    ['https://LOCALHOST./', 'a loopback address'],
    ['https://api.localhost/', 'a loopback address'],
    // every spelling WHATWG URL turns into 127.0.0.1 or 10.0.0.1
    ['https://2130706433/', 'a loopback address'],
    ['https://0x7f000001/', 'a loopback address'],
    ['https://0177.0.0.1/', 'a loopback address'],
    ['https://0x7f.0.0.1/', 'a loopback address'],
    ['https://127.1/', 'a loopback address'],
    ['https://127.0.0.1./', 'a loopback address'],
    ['https://１２７.０.０.１/', 'a loopback address'],
    ['https://%31%32%37.0.0.1/', 'a loopback address'],
    ['https://167772161/', 'a private address'],
    // IPv6 that carries an internal IPv4 address
    ['https://[::ffff:127.0.0.1]/', 'a loopback address'],
    ['https://[::ffff:7f00:1]/', 'a loopback address'],
    ['https://[64:ff9b::10.0.0.1]/', 'a private address'],
    ['https://[64:ff9b::7f00:1]/', 'a loopback address'],
    ['https://[2002:7f00:1::1]/', 'a loopback address'],
    ['https://[2002:c0a8:101::]/', 'a private address'],
    ['https://[::127.0.0.1]/', 'a non-global address'],
    // other non-public ranges
    ['https://192.0.2.10/', 'a documentation address'],
    ['https://198.18.0.1/', 'a benchmarking address'],
    ['https://240.0.0.1/', 'a reserved address'],
    ['https://[2001:db8::1]/', 'a documentation address'],
  ])('refuses %s without WEBHOOK_ALLOW_PRIVATE_URLS (%s) and accepts it with', (text, label) => {
    expect(problemOf(text, strict)).toBe(`must not point to ${label} (private addresses need WEBHOOK_ALLOW_PRIVATE_URLS)`);
    expect(problemOf(text, lenient)).toBeNull();
  });

  it.each([
    ['https://169.254.169.254/latest/meta-data/', 'a cloud metadata address'],
    ['https://2852039166/', 'a cloud metadata address'], // 169.254.169.254 in decimal
    ['https://0xa9.0xfe.0xa9.0xfe/', 'a cloud metadata address'],
    ['https://169.254.170.2/v2/credentials', 'a link-local address'],
    ['https://169.254.1.1/', 'a link-local address'],
    ['https://[fe80::1]/', 'a link-local address'],
    ['https://[febf:ffff::1]/', 'a link-local address'],
    ['https://[fd00:ec2::254]/', 'a cloud metadata address'],
    ['https://[::ffff:169.254.169.254]/', 'a cloud metadata address'],
    ['https://[64:ff9b::a9fe:a9fe]/', 'a cloud metadata address'],
    ['https://[2002:a9fe:a9fe::]/', 'a cloud metadata address'],
    ['https://100.100.100.200/', 'a cloud metadata address'],
    ['https://168.63.129.16/', 'a cloud metadata address'],
    ['https://metadata.google.internal/computeMetadata/v1/', 'a cloud metadata address'],
    ['https://metadata/', 'a cloud metadata address'],
    ['https://224.0.0.1/', 'a multicast address'],
    ['https://255.255.255.255/', 'the broadcast address'],
    ['https://[ff02::1]/', 'a multicast address'],
  ])('always refuses %s', (text, what) => {
    expect(problemOf(text, strict)).toBe(`must not point to ${what}`);
    expect(problemOf(text, lenient)).toBe(`must not point to ${what}`);
  });

  it('takes https, and http only with WEBHOOK_ALLOW_PRIVATE_URLS', () => {
    expect(problemOf('http://example.com/hook', strict)).toBe('must be an https URL');
    expect(problemOf('http://example.com/hook', lenient)).toBeNull();
    expect(problemOf('http://2130706433/', strict)).toBe('must be an https URL');
    expect(problemOf('http://2130706433/', lenient)).toBeNull();
    expect(problemOf('http://169.254.169.254/', lenient)).toBe('must not point to a cloud metadata address');
    for (const text of ['ftp://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'data:text/plain,x', 'ws://example.com/']) {
      expect(problemOf(text, strict)).toBe('must be an https URL');
      expect(problemOf(text, lenient)).toBe('must be an http or https URL');
    }
  });

  it('refuses relative URLs, user info, control characters and overlong URLs', () => {
    expect(problemOf('/hook')).toBe('must be an absolute URL');
    expect(problemOf('example.com/hook')).toBe('must be an absolute URL');
    expect(problemOf('https://')).toBe('must be an absolute URL');
    expect(problemOf('https://user:pass@example.com/')).toBe('must not contain a user name or password');
    expect(problemOf('https://user@example.com/')).toBe('must not contain a user name or password');
    expect(problemOf('https://:pass@example.com/')).toBe('must not contain a user name or password');
    expect(problemOf('https://example.com/\u0000')).toBe('must not contain NUL characters');
    expect(problemOf('https://example.com/\ud800')).toBe('must not contain unpaired UTF-16 surrogates');
    for (const c of ['\t', '\n', '\r', ' ', '\u007f', '\u0085']) {
      expect(problemOf(`https://example.com/a${c}b`)).toBe('must not contain whitespace or control characters');
    }
    expect(problemOf(' https://example.com/')).toBe('must not contain whitespace or control characters');
    const base = 'https://example.com/';
    expect(problemOf(base + 'a'.repeat(2048 - base.length))).toBeNull();
    expect(problemOf(base + 'a'.repeat(2049 - base.length))).toBe('must be at most 2048 characters');
  });

  it('refuses what could never be delivered to: port 0, host names that are no DNS name, a stored form past the cap', () => {
    expect(problemOf('https://example.com:0/hook')).toBe('must not use port 0');
    for (const host of ['-', '*', 'a..b', 'a.-b.com', 'exa mple.com'.replace(' ', '%20')]) {
      expect(problemOf(`https://${host}/hook`), host).not.toBeNull();
    }
    expect(problemOf('https://_dmarc.example.com/hook')).toBeNull();
    expect(problemOf('https://xn--bcher-kva.example/hook')).toBeNull();
    expect(problemOf('https://bücher.example/hook')).toBeNull(); // stored as punycode
    // 2,000 characters sent, 12,000 once percent-encoded: the stored form is what is capped.
    expect(problemOf(`https://example.com/${'é'.repeat(2_000)}`)).toBe('must be at most 2048 characters');
  });

  it("judges RFC 8215's local-use NAT64 prefix by the IPv4 address it carries", () => {
    expect(problemOf('https://[64:ff9b:1::a9fe:a9fe]/', { allowPrivateUrls: true })).toMatch(/metadata/);
    expect(problemOf('https://[64:ff9b:1::7f00:1]/', { allowPrivateUrls: false })).not.toBeNull();
  });

  it('lets other host names through: their addresses are checked when a delivery connects', () => {
    expect(problemOf('https://internal.example/hook')).toBeNull();
    expect(problemOf('https://127.0.0.1.nip.io/hook')).toBeNull();
    expect(problemOf('https://localhost.example.com/hook')).toBeNull();
  });
});

describe('addressVerdict', () => {
  it.each([
    // address, without the setting, with it
    ['93.184.215.14', 'public', 'public'],
    ['8.8.8.8', 'public', 'public'],
    ['2606:4700:4700::1111', 'public', 'public'],
    ['::ffff:8.8.8.8', 'public', 'public'],
    ['64:ff9b::8.8.8.8', 'public', 'public'],
    ['2002:808:808::1', 'public', 'public'],
    ['127.0.0.1', 'forbidden', 'private'],
    ['127.255.255.254', 'forbidden', 'private'],
    ['10.1.2.3', 'forbidden', 'private'],
    ['172.31.255.255', 'forbidden', 'private'],
    ['172.32.0.1', 'public', 'public'],
    ['192.168.0.1', 'forbidden', 'private'],
    ['100.64.0.1', 'forbidden', 'private'],
    ['100.128.0.1', 'public', 'public'],
    ['0.0.0.0', 'forbidden', 'private'],
    ['::', 'forbidden', 'private'],
    ['::1', 'forbidden', 'private'],
    ['[::1]', 'forbidden', 'private'],
    ['::ffff:127.0.0.1', 'forbidden', 'private'],
    ['::ffff:10.0.0.1', 'forbidden', 'private'],
    ['fd00::1', 'forbidden', 'private'],
    ['5f00::1', 'forbidden', 'private'],
    ['169.254.169.254', 'forbidden', 'forbidden'],
    ['169.254.0.1', 'forbidden', 'forbidden'],
    ['fe80::1', 'forbidden', 'forbidden'],
    ['fe80::1%eth0', 'forbidden', 'forbidden'],
    ['fd00:ec2::254', 'forbidden', 'forbidden'],
    ['::ffff:169.254.169.254', 'forbidden', 'forbidden'],
    ['::ffff:0:169.254.169.254', 'forbidden', 'forbidden'],
    ['64:ff9b::169.254.169.254', 'forbidden', 'forbidden'],
    ['2002:a9fe:a9fe::1', 'forbidden', 'forbidden'],
    // Teredo keeps the client's IPv4 address inverted: 5601:5601 is 169.254.169.254
    ['2001:0:4136:e378:8000:63bf:5601:5601', 'forbidden', 'forbidden'],
    ['100.100.100.200', 'forbidden', 'forbidden'],
    ['168.63.129.16', 'forbidden', 'forbidden'],
    ['not an address', 'forbidden', 'forbidden'],
  ] as const)('%s: %s without the setting, %s with it', (ip, without, withSetting) => {
    expect(addressVerdict(ip, strict)).toBe(without);
    expect(addressVerdict(ip, lenient)).toBe(withSetting);
  });
});
