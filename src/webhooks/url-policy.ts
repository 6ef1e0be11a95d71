// Where a webhook may be sent (SPEC §5): https only, and never to this machine, its network or a
// cloud's metadata service unless the operator says so. The same rules run twice: on the URL's text
// when an endpoint is created or updated (checkWebhookUrl), and on every address a host name
// resolves to when a delivery connects (addressVerdict, from http-client.ts), so a name that
// resolves to 127.0.0.1, or one that changes its answer after creation (DNS rebinding), fails too.
//
// Address classes (ranges by node:net BlockList; IANA's special-purpose registries):
// - always refused, whatever WEBHOOK_ALLOW_PRIVATE_URLS says: link-local (169.254.0.0/16, which
//   holds 169.254.169.254, the metadata address of AWS, GCP, Azure, Oracle, DigitalOcean…;
//   fe80::/10), the other metadata addresses (fd00:ec2::254 AWS, 100.100.100.200 Alibaba,
//   168.63.129.16 Azure WireServer: a host-local virtual IP on Azure, never a receiver elsewhere),
//   and multicast and broadcast (never a TCP peer, so refusing them costs nothing);
// - private (refused unless WEBHOOK_ALLOW_PRIVATE_URLS): loopback, RFC 1918, CGNAT 100.64.0.0/10,
//   unspecified (0.0.0.0/8, ::), unique local fc00::/7, and every other range that is not public
//   unicast (documentation, benchmarking, reserved, IETF assignments, IPv6 outside 2000::/3);
// - public: the rest.
// An IPv6 address that carries an IPv4 one (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4
// 2002::/16, Teredo, the old compatible ::a.b.c.d) is judged by that IPv4 address too: the worse wins.
import { BlockList, isIP } from 'node:net';
import { rule, stringProblem, URL_FORBIDDEN } from '../domain/input.js';

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** `label` names the range in messages ("a loopback address"). */
export type AddressClass = { kind: 'public' } | NonPublic;
type NonPublic = { kind: 'private' | 'forbidden'; label: string };

interface Range {
  kind: 'private' | 'forbidden';
  label: string;
  list: BlockList;
}

function ranges(family: 'ipv4' | 'ipv6', table: [string, 'private' | 'forbidden', string][]): Range[] {
  return table.map(([cidr, kind, label]) => {
    const [network, prefix] = cidr.split('/') as [string, string];
    return { kind, label, list: subnet(network, Number(prefix), family) };
  });
}

// Order matters: the first range that holds the address names it (forbidden ones first).
const IPV4 = ranges('ipv4', [
  ['169.254.169.254/32', 'forbidden', 'a cloud metadata address'],
  ['169.254.0.0/16', 'forbidden', 'a link-local address'],
  ['100.100.100.200/32', 'forbidden', 'a cloud metadata address'],
  ['168.63.129.16/32', 'forbidden', 'a cloud metadata address'],
  ['224.0.0.0/4', 'forbidden', 'a multicast address'],
  ['255.255.255.255/32', 'forbidden', 'the broadcast address'],
  ['0.0.0.0/8', 'private', 'an unspecified address'],
  ['127.0.0.0/8', 'private', 'a loopback address'],
  ['10.0.0.0/8', 'private', 'a private address'],
  ['172.16.0.0/12', 'private', 'a private address'],
  ['192.168.0.0/16', 'private', 'a private address'],
  ['100.64.0.0/10', 'private', 'a carrier-grade NAT address'],
  ['192.0.0.0/24', 'private', 'a reserved address'],
  ['192.0.2.0/24', 'private', 'a documentation address'],
  ['198.51.100.0/24', 'private', 'a documentation address'],
  ['203.0.113.0/24', 'private', 'a documentation address'],
  ['192.88.99.0/24', 'private', 'a reserved address'],
  ['198.18.0.0/15', 'private', 'a benchmarking address'],
  ['240.0.0.0/4', 'private', 'a reserved address'],
]);

const IPV6 = ranges('ipv6', [
  ['fe80::/10', 'forbidden', 'a link-local address'],
  ['fd00:ec2::254/128', 'forbidden', 'a cloud metadata address'],
  ['ff00::/8', 'forbidden', 'a multicast address'],
  ['::/128', 'private', 'an unspecified address'],
  ['::1/128', 'private', 'a loopback address'],
  ['fc00::/7', 'private', 'a unique local address'],
  ['fec0::/10', 'private', 'a site-local address'],
  ['64:ff9b:1::/48', 'private', 'a reserved address'],
  ['100::/64', 'private', 'a reserved address'],
  ['2001::/23', 'private', 'a reserved address'],
  ['2001:db8::/32', 'private', 'a documentation address'],
  ['3fff::/20', 'private', 'a documentation address'],
]);

const GLOBAL_UNICAST = subnet('2000::', 3); // public IPv6 unicast lives here

/** IPv6 ranges that carry an IPv4 address: where its 4 bytes sit, and whether the range itself is public. */
const EMBEDDINGS: { range: BlockList; at: number; invert?: boolean; publicRange: boolean }[] = [
  { range: subnet('::ffff:0:0', 96), at: 12, publicRange: true }, // IPv4-mapped
  { range: subnet('64:ff9b::', 96), at: 12, publicRange: true }, // NAT64 well-known prefix
  // RFC 8215 local-use NAT64 (not global): judged by the IPv4 in its last 32 bits as well (the /96
  // layout translators use), so a local translator cannot reach a metadata address.
  { range: subnet('64:ff9b:1::', 48), at: 12, publicRange: false },
  { range: subnet('2002::', 16), at: 2, publicRange: true }, // 6to4
  { range: subnet('2001::', 32), at: 12, invert: true, publicRange: false }, // Teredo (client address, inverted)
  { range: subnet('::ffff:0:0:0', 96), at: 12, publicRange: false }, // SIIT IPv4-translated
  { range: subnet('::', 96), at: 12, publicRange: false }, // IPv4-compatible (deprecated)
];

function subnet(network: string, prefix: number, family: 'ipv4' | 'ipv6' = 'ipv6'): BlockList {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return list;
}

function find(table: Range[], address: string, family: 'ipv4' | 'ipv6'): NonPublic | null {
  const hit = table.find((r) => r.list.check(address, family));
  return hit ? { kind: hit.kind, label: hit.label } : null;
}

const SEVERITY = { public: 0, private: 1, forbidden: 2 } as const;
const worse = (a: AddressClass, b: AddressClass) => (SEVERITY[b.kind] > SEVERITY[a.kind] ? b : a);

/** What an IP address is (IPv6 may come bracketed or with a zone id); anything else is forbidden. */
export function classifyAddress(ip: string): AddressClass {
  const address = ip.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const family = isIP(address);
  if (family === 4) return find(IPV4, address, 'ipv4') ?? { kind: 'public' };
  if (family !== 6) return { kind: 'forbidden', label: 'an unparsable address' };

  const own = find(IPV6, address, 'ipv6');
  if (own?.kind === 'forbidden') return own;
  const embedding = EMBEDDINGS.find((e) => e.range.check(address, 'ipv6'));
  if (embedding) {
    const inner = classifyAddress(embeddedIPv4(address, embedding.at, embedding.invert ?? false));
    return embedding.publicRange ? inner : worse({ kind: 'private', label: own?.label ?? 'a non-global address' }, inner);
  }
  if (own) return own;
  return GLOBAL_UNICAST.check(address, 'ipv6') ? { kind: 'public' } : { kind: 'private', label: 'a non-global address' };
}

/**
 * The connect-time rule for one resolved address: `forbidden` = refused under this setting (always
 * for link-local/metadata; for private ones unless allowPrivateUrls), `private` = a non-public
 * address that allowPrivateUrls lets through, `public` = allowed everywhere.
 */
export function addressVerdict(ip: string, { allowPrivateUrls }: { allowPrivateUrls: boolean }): 'public' | 'private' | 'forbidden' {
  const found = classifyAddress(ip);
  if (found.kind === 'private' && !allowPrivateUrls) return 'forbidden';
  return found.kind;
}

/**
 * What an address is when it is refused under this setting ("a loopback address (private addresses
 * need WEBHOOK_ALLOW_PRIVATE_URLS)"), or null when it is allowed: the words of both the creation
 * problem and a delivery's connect-time error.
 */
export function addressRefusal(ip: string, { allowPrivateUrls }: { allowPrivateUrls: boolean }): string | null {
  const found = classifyAddress(ip);
  if (found.kind === 'public' || (found.kind === 'private' && allowPrivateUrls)) return null;
  return refusal(found);
}

function refusal(found: NonPublic): string {
  return found.kind === 'forbidden' ? found.label : `${found.label} (private addresses need WEBHOOK_ALLOW_PRIVATE_URLS)`;
}

/** Host names that are an address class by themselves (RFC 6761 localhost; GCP's metadata names). */
function classifyName(hostname: string): AddressClass {
  const name = hostname.replace(/\.+$/, '');
  if (name === 'localhost' || name.endsWith('.localhost')) return { kind: 'private', label: 'a loopback address' };
  if (name === 'metadata.google.internal' || name === 'metadata') return { kind: 'forbidden', label: 'a cloud metadata address' };
  return { kind: 'public' };
}

/** A host name as WHATWG URL leaves it (lower case, IDN as punycode): labels of 1..63 letters, digits, - or _, not starting or ending with -. */
const DNS_NAME = /^(?=.{1,253}\.?$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.?$/;

export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; problem: string };

/**
 * Creation-time check of an endpoint URL (the caller reports `problem` as BAD_USER_INPUT on the
 * field). On success, store `url.href`: the normalised form is the one that was checked (an IPv4
 * written `2130706433` or `0x7f.1` is `127.0.0.1` there). Names other than localhost and the
 * metadata names pass: their addresses are checked when a delivery connects.
 */
export function checkWebhookUrl(text: string, { allowPrivateUrls }: { allowPrivateUrls: boolean }): WebhookUrlCheck {
  const fail = (problem: string): WebhookUrlCheck => ({ ok: false, problem });
  if (text.length > MAX_WEBHOOK_URL_LENGTH) return fail(rule.tooLong(MAX_WEBHOOK_URL_LENGTH));
  const stored = stringProblem(text);
  if (stored) return fail(stored);
  if (URL_FORBIDDEN.test(text)) return fail('must not contain whitespace or control characters');

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return fail('must be an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && allowPrivateUrls)) {
    return fail(allowPrivateUrls ? 'must be an http or https URL' : 'must be an https URL');
  }
  if (url.username !== '' || url.password !== '') return fail('must not contain a user name or password');
  if (url.hostname === '') return fail('must name a host');
  // Percent-encoding may make the stored form longer than the text that was sent.
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH) return fail(rule.tooLong(MAX_WEBHOOK_URL_LENGTH));
  if (url.port === '0') return fail('must not use port 0');

  const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!isIP(literal) && !DNS_NAME.test(url.hostname)) return fail('must name a host by a valid DNS name or address');
  const found = isIP(literal) ? classifyAddress(literal) : classifyName(url.hostname);
  if (found.kind === 'forbidden' || (found.kind === 'private' && !allowPrivateUrls)) return fail(`must not point to ${refusal(found)}`);
  return { ok: true, url };
}

/** The IPv4 address in bytes at..at+3 of an IPv6 address (expanded from its text). */
function embeddedIPv4(ipv6: string, at: number, invert: boolean): string {
  const bytes = ipv6Bytes(ipv6).slice(at, at + 4);
  return bytes.map((b) => (invert ? b ^ 0xff : b)).join('.');
}

/** The 16 bytes of a valid IPv6 address in text (`::` and a trailing dotted quad allowed). */
function ipv6Bytes(ipv6: string): number[] {
  const groups = (part: string) =>
    part === ''
      ? []
      : part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [Number.parseInt(g, 16)];
          const [a, b, c, d] = g.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head, tail] = ipv6.split('::') as [string, string | undefined];
  const front = groups(head);
  const back = tail === undefined ? [] : groups(tail);
  const hextets = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
  return hextets.flatMap((h) => [h >> 8, h & 0xff]);
}
