// Addresses of the local backend. Every host's spec address a.b.c.d/p becomes 127.K.c.d/p for one
// block K in 100–199 (all of 127/8 is loopback on Linux, so each host binds its own address and
// every host keeps the same ports). Hosts whose addresses differ only in a.b would collide; the
// later ones (spec order) take 127.K.250.1, 127.K.250.2, … 127.K.255.254 instead, skipping
// addresses other hosts map to. The prefix length is kept. Pure, except listeningAddresses.

import { readFileSync } from 'node:fs';
import { endianness } from 'node:os';
import type { TopologySpec } from '../../../common/topology-spec/topology-spec.ts';
import { parseCidr } from '../../../common/topology-spec/validate.ts';

export const FIRST_BLOCK = 100;
export const LAST_BLOCK = 199;
const FALLBACK_FROM = 250;

export interface AddressMap {
  block: number;
  /** host → 127.K.x.y/p */
  hosts: Record<string, string>;
  /** hosts that took a fallback address, in spec order */
  fallback: string[];
}

/** Maps every host of a valid spec into block K (FIRST_BLOCK–LAST_BLOCK). */
export function mapAddresses(spec: TopologySpec, block: number): AddressMap {
  if (!Number.isInteger(block) || block < FIRST_BLOCK || block > LAST_BLOCK) {
    throw new Error(`address block ${block}: allowed an integer ${FIRST_BLOCK}–${LAST_BLOCK} (127.K.x.y)`);
  }
  const hosts: Record<string, string> = {};
  const used = new Set<string>();
  const colliding: { name: string; prefix: number }[] = [];
  for (const h of spec.hosts) {
    const cidr = parseCidr(h.ip);
    if (!cidr)
      throw new Error(`host ${h.name}: ip ${JSON.stringify(h.ip)} is not an IPv4 address with prefix`);
    const [, , c, d] = cidr.address.split('.');
    const address = `127.${block}.${c}.${d}`;
    if (used.has(address)) {
      colliding.push({ name: h.name, prefix: cidr.prefix });
      continue;
    }
    used.add(address);
    hosts[h.name] = `${address}/${cidr.prefix}`;
  }
  let third = FALLBACK_FROM;
  let fourth = 0;
  for (const { name, prefix } of colliding) {
    let address: string;
    do {
      fourth += 1;
      if (fourth > 254) [third, fourth] = [third + 1, 1];
      if (third > 255) {
        throw new Error(
          `topology ${spec.name}: ${colliding.length} hosts collide once mapped to 127.${block}.c.d ` +
            `(they differ only in their first two octets); at most ${6 * 254} fallback addresses ` +
            `127.${block}.250.1–127.${block}.255.254 exist: give hosts distinct last two octets`,
        );
      }
      address = `127.${block}.${third}.${fourth}`;
    } while (used.has(address));
    used.add(address);
    hosts[name] = `${address}/${prefix}`;
  }
  return { block, hosts, fallback: colliding.map((c) => c.name) };
}

/** The spec with every host's ip replaced by its mapped address. */
export function mappedSpec(spec: TopologySpec, map: AddressMap): TopologySpec {
  return {
    ...spec,
    hosts: spec.hosts.map((h) => ({ ...h, ip: map.hosts[h.name] ?? h.ip })),
  };
}

/** The address part of "a.b.c.d/p". */
export function withoutPrefix(ip: string): string {
  return ip.split('/')[0] ?? ip;
}

/** Addresses of block K that already have a listening TCP socket (from `listening`). */
export function busyAddresses(map: AddressMap, listening: ReadonlySet<string>): string[] {
  return Object.values(map.hosts)
    .map(withoutPrefix)
    .filter((a) => listening.has(a));
}

const TCP_LISTEN = '0A';

/**
 * IPv4 addresses with a listening TCP socket, from /proc/net/tcp (and IPv4-mapped ones from
 * /proc/net/tcp6); empty where /proc is absent (not Linux).
 */
export function listeningAddresses(): Set<string> {
  const out = new Set<string>();
  const little = endianness() === 'LE';
  for (const [file, hexLength] of [
    ['/proc/net/tcp', 8],
    ['/proc/net/tcp6', 32],
  ] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      const local = fields[1];
      if (fields[3] !== TCP_LISTEN || local === undefined) continue;
      const hex = local.split(':')[0] ?? '';
      if (hex.length !== hexLength) continue;
      // The kernel prints each 32-bit word in host byte order; an IPv4-mapped IPv6 address keeps
      // the IPv4 address in its last word, after 0000:0000:0000:ffff.
      const words = hex.match(/.{8}/g) ?? [];
      if (hexLength === 32) {
        const [w0, w1, w2] = words.map((w) => wordBytes(w, little));
        const mapped =
          w0?.every((b) => b === 0) && w1?.every((b) => b === 0) && w2?.join('.') === '0.0.255.255';
        if (!mapped) continue;
      }
      const last = words[words.length - 1];
      if (last !== undefined) out.add(wordBytes(last, little).join('.'));
    }
  }
  return out;
}

function wordBytes(word: string, little: boolean): number[] {
  const bytes = [...Buffer.from(word, 'hex')];
  return little ? bytes.reverse() : bytes;
}
