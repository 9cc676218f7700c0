// Test support: ports for servers the tests start lie where no outgoing
// connection takes them meanwhile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { readFile } from 'node:fs/promises';
import { belowEphemeralRange, freePorts } from '../support/minio.js';

test('freePorts hands out distinct ports below the ephemeral range, free to bind', async () => {
  const ephemeralLow = Number((await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/)[0]);
  const [low, high] = await belowEphemeralRange();
  assert.equal(high, ephemeralLow - 1);
  const ports = await freePorts(7);
  assert.equal(new Set(ports).size, 7);
  for (const port of ports) {
    assert.ok(port >= low && port < ephemeralLow, `${port} is below ${ephemeralLow}, where connect() never picks a local port`);
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => srv.close(resolve));
  }
});

