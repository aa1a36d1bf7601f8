import { Redis } from 'ioredis';

/** What Redis counts of its own work (INFO stats and commandstats), to say where a phase's Redis time went. */
export interface RedisCounters {
  netInputBytes: number;
  netOutputBytes: number;
  commands: Record<string, { calls: number; usec: number }>;
}

export async function redisCounters(url: string): Promise<RedisCounters> {
  const redis = new Redis(url);
  try {
    const stats = await redis.info('stats');
    const commandstats = await redis.info('commandstats');
    const stat = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(stats)?.[1] ?? 0);
    const commands: RedisCounters['commands'] = {};
    for (const match of commandstats.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      commands[match[1]!] = { calls: Number(match[2]), usec: Number(match[3]) };
    }
    return { netInputBytes: stat('total_net_input_bytes'), netOutputBytes: stat('total_net_output_bytes'), commands };
  } finally {
    redis.disconnect();
  }
}

/**
 * Per webhook: bytes the router sent Redis and got back, and the commands that took most of Redis's
 * time (commandstats' usec; a script's time includes the commands it runs, which count again under
 * their own names).
 */
export interface RedisPerWebhook {
  bytesIn: number;
  bytesOut: number;
  top: Array<{ command: string; calls: number; usec: number }>;
}

export function perWebhook(before: RedisCounters, after: RedisCounters, webhooks: number): RedisPerWebhook {
  const per = (value: number) => Math.round((value / Math.max(1, webhooks)) * 100) / 100;
  const deltas = Object.entries(after.commands).map(([command, { calls, usec }]) => ({
    command,
    calls: calls - (before.commands[command]?.calls ?? 0),
    usec: usec - (before.commands[command]?.usec ?? 0),
  }));
  return {
    bytesIn: Math.round((after.netInputBytes - before.netInputBytes) / Math.max(1, webhooks)),
    bytesOut: Math.round((after.netOutputBytes - before.netOutputBytes) / Math.max(1, webhooks)),
    top: deltas
      .filter((delta) => delta.calls > 0)
      .sort((a, b) => b.usec - a.usec)
      .slice(0, 6)
      .map((delta) => ({ command: delta.command, calls: per(delta.calls), usec: per(delta.usec) })),
  };
}
