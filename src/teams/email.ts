// An email address is any RFC 5321 mailbox (SPEC §3: `a@b.c` included): a dot-string or quoted
// local part, then a domain of letter-digit-hyphen labels or an address literal ([1.2.3.4]).
import { isIP } from 'node:net';
import { z } from 'zod';

const ATEXT = "[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]";
const DOT_STRING = `${ATEXT}+(?:\\.${ATEXT}+)*`;
// qtextSMTP (printable ASCII but " and \) or a quoted pair of any printable ASCII.
const QUOTED_STRING = '"(?:[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]|\\\\[\\x20-\\x7E])*"';
const SUB_DOMAIN = '[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?';
const DOMAIN = `${SUB_DOMAIN}(?:\\.${SUB_DOMAIN})*`;
const MAILBOX = new RegExp(`^(${DOT_STRING}|${QUOTED_STRING})@(${DOMAIN}|\\[[^\\[\\]\\\\]+\\])$`);

export function isRfc5321Mailbox(value: string): boolean {
  // RFC 5321 §4.5.3.1: local part ≤ 64 octets, domain ≤ 255, a path (<mailbox>) ≤ 256.
  if (value.length > 254) return false;
  const match = MAILBOX.exec(value);
  if (!match) return false;
  const [, local, domain] = match as unknown as [string, string, string];
  if (local.length > 64 || domain.length > 255) return false;
  if (domain.startsWith('[')) {
    const literal = domain.slice(1, -1);
    // IPv4-address-literal, "IPv6:" IPv6-addr, or a General-address-literal (tag ":" dcontent).
    if (literal.startsWith('IPv6:')) return isIP(literal.slice(5)) === 6;
    if (/^[A-Za-z0-9-]*[A-Za-z0-9]:[\x21-\x5A\x5E-\x7E]+$/.test(literal)) return true;
    return isIP(literal) === 4;
  }
  return domain.split('.').every((label) => label.length <= 63);
}

export const emailSchema = z.string().trim().refine(isRfc5321Mailbox, 'must be an email address (RFC 5321)');
