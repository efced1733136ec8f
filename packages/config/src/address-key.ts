import { isIP } from 'node:net';

/**
 * The key per-address bounds count against (the gateway's admission and key-lookup budgets, the
 * portal's sign-in and sign-up throttles): IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its
 * /64 (one subscriber usually holds a whole /64, so counting single IPv6 addresses would bound
 * nothing). Anything that is not an address is its own key.
 */
export function addressKey(address: string): string {
  if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) return address.slice(7);
  if (isIP(address) !== 6) return address;
  return ipv6Prefix64(address);
}

function ipv6Prefix64(address: string): string {
  const zone = address.indexOf('%');
  const a = zone >= 0 ? address.slice(0, zone) : address;
  const gap = a.indexOf('::');
  let groups: string[];
  if (gap < 0) groups = a.split(':');
  else {
    const head = gap === 0 ? [] : a.slice(0, gap).split(':');
    const tailText = a.slice(gap + 2);
    const tail = tailText === '' ? [] : tailText.split(':');
    // An embedded IPv4 address (last part) stands for two groups.
    const tailGroups = tail.length + (tail.length > 0 && tail[tail.length - 1]!.includes('.') ? 1 : 0);
    const zeros = Math.max(0, 8 - head.length - tailGroups);
    groups = head;
    for (let i = 0; i < zeros; i++) groups.push('0');
    for (const g of tail) groups.push(g);
  }
  let out = '';
  for (let i = 0; i < 4; i++) out += `${Number.parseInt(groups[i] ?? '0', 16).toString(16)}:`;
  return `${out}:/64`;
}
