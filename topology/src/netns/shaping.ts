// Link shaping with tc: bandwidth with HTB on an interface's egress, delay/jitter/loss with a
// netem child (only where sch_netem exists). Each end of a link shapes its own egress, so a→b
// and b→a are independent. `probeNetem` asks the kernel once, in a throwaway namespace
// (`unshare -n`, gone when tc exits), so the probe itself leaves nothing behind.

import { CommandError, run } from '../sh.ts';
import type { LinkShape } from '../../../common/topology-spec/topology-spec.ts';

let netemProbe: Promise<{ available: boolean; reason: string }> | undefined;

export function probeNetem(): Promise<{ available: boolean; reason: string }> {
  netemProbe ??= run([
    'unshare',
    '--net',
    'tc',
    'qdisc',
    'add',
    'dev',
    'lo',
    'root',
    'netem',
    'delay',
    '1ms',
  ]).then(
    () => ({ available: true, reason: 'sch_netem available' }),
    (err: unknown) => ({
      available: false,
      reason: err instanceof CommandError ? err.stderr.trim() || err.message : String(err),
    }),
  );
  return netemProbe;
}

/** HTB burst: at least a 64 KiB GSO segment, or 2 ms at the rate, so full-size bursts are not starved. */
function burstBytes(mbps: number): number {
  return Math.max(64 * 1024, Math.ceil((mbps * 1e6 * 0.002) / 8));
}

export function netemArgs(shape: LinkShape): string {
  const parts: string[] = [];
  if ((shape.delayMs ?? 0) > 0 || (shape.jitterMs ?? 0) > 0) {
    parts.push(`delay ${shape.delayMs ?? 0}ms`);
    if ((shape.jitterMs ?? 0) > 0) parts.push(`${shape.jitterMs}ms`);
  }
  if ((shape.lossPercent ?? 0) > 0) parts.push(`loss ${shape.lossPercent}%`);
  return parts.join(' ');
}

/**
 * tc batch lines that give `dev` the shape (bandwidth, and netem when `withNetem`). `hadQdisc`
 * says whether an earlier shape installed a root qdisc that must go first (runtime changes).
 */
export function shapeLines(dev: string, shape: LinkShape, withNetem: boolean, hadQdisc: boolean): string[] {
  const lines: string[] = [];
  if (hadQdisc) lines.push(`qdisc del dev ${dev} root`);
  const netem = withNetem ? netemArgs(shape) : '';
  const bw = shape.bandwidthMbps;
  if (bw !== undefined) {
    const burst = burstBytes(bw);
    lines.push(`qdisc add dev ${dev} root handle 1: htb default 1`);
    lines.push(
      `class add dev ${dev} parent 1: classid 1:1 htb rate ${bw}mbit ceil ${bw}mbit burst ${burst} cburst ${burst}`,
    );
    if (netem) lines.push(`qdisc add dev ${dev} parent 1:1 handle 10: netem ${netem} limit 10000`);
  } else if (netem) {
    lines.push(`qdisc add dev ${dev} root handle 10: netem ${netem} limit 10000`);
  }
  return lines;
}

export function isShaped(shape: LinkShape, withNetem: boolean): boolean {
  return shape.bandwidthMbps !== undefined || (withNetem && netemArgs(shape) !== '');
}
