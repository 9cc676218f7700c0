// A process that owns a test cluster and then ends in a given way, for
// test/e2e/k8s-teardown.test.ts:
//
//   node dist/test/support/cluster-child.js hold   start a cluster with a pod, print
//                                                  "READY <dir>", wait (for a signal)
//   node dist/test/support/cluster-child.js throw  the same, then an uncaught exception
//   node dist/test/support/cluster-child.js host-state   print the host state as JSON
//                                                  (run under the host lock by the test)
//
// The pod (no hostNetwork, a memory-backed emptyDir, the service-account
// token) gives the teardown something of each kind to undo: a network
// namespace and CNI results, tmpfs and overlay mounts, pod cgroups, log links.
import { LocalCluster } from './cluster.js';
import { hostState } from './cluster-host.js';
import { isPodReady } from './kube-api.js';

const mode = process.argv[2];
if (mode === 'host-state') {
  process.stdout.write(`${JSON.stringify(await hostState())}\n`);
} else if (mode === 'hold' || mode === 'throw') {
  const cluster = await LocalCluster.start();
  await cluster.apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'probe', namespace: 'default' },
    spec: {
      terminationGracePeriodSeconds: 30,
      containers: [{ name: 'pause', image: 'localhost/ssr-test/pause:1', imagePullPolicy: 'Never', volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }] }],
      volumes: [{ name: 'scratch', emptyDir: { medium: 'Memory' } }],
    },
  });
  await cluster.api.waitForPods('default', '', 'the probe pod to run', (pods) => (pods.length === 1 && isPodReady(pods[0]!) ? true : undefined));
  process.stdout.write(`READY ${cluster.dir}\n`);
  if (mode === 'throw') setTimeout(() => {
    throw new Error('an exception nobody catches');
  }, 100);
  else setInterval(() => undefined, 60_000);
} else {
  process.stderr.write('usage: cluster-child.js hold|throw|host-state\n');
  process.exit(2);
}
