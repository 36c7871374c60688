/**
 * Which network addresses the server may fetch media from. A server that fetches URLs for its clients must
 * not become their way into the machine's own network (SSRF): loopback services, the LAN, the cloud metadata
 * endpoint (169.254.169.254, fd00:ec2::254) and the like are refused unless the operator opts in with
 * `--allow_private_urls`.
 *
 * The rule is an allow-list: only addresses that ipaddr.js classifies as ordinary global `unicast` pass.
 * Everything else — loopback, private, link-local, CGNAT (100.64/10), unique-local (fc00::/7), multicast,
 * reserved and documentation ranges, and IPv6 forms that embed an IPv4 address some routers would reach
 * (6to4, Teredo, NAT64) — is refused. IPv4-mapped (`::ffff:127.0.0.1`) and IPv4-compatible (`::127.0.0.1`)
 * IPv6 addresses are judged as the IPv4 address they carry.
 */
import ipaddr from 'ipaddr.js';

/** Why an address is refused, or null when it may be fetched. */
export function refusedAddressReason(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    // Zone ids (fe80::1%eth0) are link-local by definition.
    if (address.includes('%')) return 'linkLocal';
    parsed = ipaddr.parse(address);
  } catch {
    return 'not an IP address';
  }
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  const range = parsed.range();
  return range === 'unicast' ? null : range;
}

/** True when `address` is an ordinary public address. */
export function isPublicAddress(address: string): boolean {
  return refusedAddressReason(address) === null;
}
