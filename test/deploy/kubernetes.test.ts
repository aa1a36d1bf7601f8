import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_OPERATIONS } from '../../src/api/openapi.js';
import { parseDuration } from '../../src/config/duration.js';
import { loadConfig } from '../../src/config/env.js';

// deploy/kubernetes/*.yaml checked against the Kubernetes schemas (kubernetes-models validates each
// object with the API's OpenAPI schema: types, required fields, enums, but not unknown fields, so
// the settings that matter are also checked by name below) and against what the router and its
// image really do.
const dir = 'deploy/kubernetes';
const files = readdirSync(dir).filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml');

type Manifest = { apiVersion: string; kind: string; metadata: { name: string } } & Record<string, unknown>;
const manifests: Array<{ file: string; doc: Manifest }> = files.flatMap((file) =>
  parseAllDocuments(readFileSync(join(dir, file), 'utf8')).map((document) => {
    if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]!.message}`);
    return { file, doc: document.toJS() as Manifest };
  }),
);

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'v1/Service': Service,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/** Throws kubernetes-models' error when `doc` does not match the schema of its kind. */
function validate(doc: Manifest): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) throw new Error(`${doc.apiVersion} ${doc.kind}: no schema known to this test; add its kubernetes-models class`);
  new Model(doc as never).validate();
}

type EnvVar = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
type Container = {
  name: string;
  image: string;
  env: EnvVar[];
  ports: Array<{ name: string; containerPort: number }>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  startupProbe?: { httpGet: { path: string; port: string | number } };
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; capabilities: { drop: string[] } };
  volumeMounts?: Array<{ name: string; mountPath: string }>;
};
type PodSpec = {
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot: boolean; runAsUser: number; runAsGroup: number };
  containers: Container[];
  volumes?: Array<{ name: string; emptyDir?: object }>;
};
type DeploymentDoc = Manifest & {
  spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
};

const deployments = manifests.map(({ doc }) => doc).filter((doc): doc is DeploymentDoc => doc.kind === 'Deployment');
const roleOf = (deployment: DeploymentDoc) => deployment.spec.template.spec.containers[0]!.env.find((env) => env.name === 'ROLE')?.value;
const envOf = (container: Container) => Object.fromEntries(container.env.map((env) => [env.name, env]));
const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([key, value]) => labels[key] === value);

/** Settings that are credentials: they must come from a Secret, never a literal in a manifest. */
const SECRET_SETTINGS = ['REDIS_URL', 'WEBHOOK_TOKENS', 'ADMIN_TOKEN', 'SLACK_BOT_TOKEN', 'SMTP_URL', 'PAGERDUTY_ROUTING_KEY'];

/** The Dockerfile's final USER, as uid and gid. */
function imageUser(): { uid: number; gid: number } {
  const users = [...readFileSync('Dockerfile', 'utf8').matchAll(/^USER\s+(\S+)\s*$/gm)].map((match) => match[1]!);
  const [uid, gid] = users.at(-1)!.split(':');
  return { uid: Number(uid), gid: Number(gid ?? uid) };
}

describe('Kubernetes manifests', () => {
  it('has files and objects to check', () => {
    expect(files.sort()).toEqual(['api.yaml', 'worker.yaml']);
    expect(manifests.map(({ doc }) => `${doc.kind}/${doc.metadata.name}`).sort()).toEqual([
      'Deployment/alertcenter-api',
      'Deployment/alertcenter-worker',
      'PodDisruptionBudget/alertcenter-api',
      'PodDisruptionBudget/alertcenter-worker',
      'Service/alertcenter',
    ]);
  });

  it.each(manifests.map(({ file, doc }) => [`${file}: ${doc.kind}/${doc.metadata.name}`, doc] as const))('%s matches the Kubernetes schema', (_name, doc) => {
    expect(() => validate(doc)).not.toThrow();
  });

  it('the validator rejects what the API server would (so the checks above can fail)', () => {
    const api = structuredClone(deployments.find((deployment) => deployment.metadata.name === 'alertcenter-api')!);
    (api.spec.template.spec as unknown as Record<string, unknown>).terminationGracePeriodSeconds = '40s';
    expect(() => validate(api)).toThrow();
    const pdb = structuredClone(manifests.find(({ doc }) => doc.kind === 'PodDisruptionBudget')!.doc);
    (pdb.spec as Record<string, unknown>).minAvailable = { replicas: 1 };
    expect(() => validate(pdb)).toThrow();
    expect(() => validate({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 'http' }] } })).toThrow();
  });

  it('runs the api and worker roles as separate Deployments, each under a PodDisruptionBudget', () => {
    expect(deployments.map(roleOf).sort()).toEqual(['api', 'worker']);
    const budgets = manifests.map(({ doc }) => doc).filter((doc) => doc.kind === 'PodDisruptionBudget') as Array<
      Manifest & { spec: { selector: { matchLabels: Record<string, string> }; minAvailable: number } }
    >;
    for (const deployment of deployments) {
      const labels = deployment.spec.template.metadata.labels;
      expect(matches(deployment.spec.selector.matchLabels, labels)).toBe(true);
      const budget = budgets.filter((pdb) => matches(pdb.spec.selector.matchLabels, labels));
      expect(budget, deployment.metadata.name).toHaveLength(1);
      // A budget that allows no disruption at all would block node drains.
      expect(budget[0]!.spec.minAvailable).toBeLessThan((deployment.spec as unknown as { replicas: number }).replicas);
    }
  });

  it('sends the Service only to api pods, on their named port', () => {
    const service = manifests.find(({ doc }) => doc.kind === 'Service')!.doc as Manifest & {
      spec: { selector: Record<string, string>; ports: Array<{ targetPort: string }> };
    };
    const selected = deployments.filter((deployment) => matches(service.spec.selector, deployment.spec.template.metadata.labels));
    expect(selected.map(roleOf)).toEqual(['api']);
    const container = selected[0]!.spec.template.spec.containers[0]!;
    expect(container.ports.map((port) => port.name)).toContain(service.spec.ports[0]!.targetPort);
  });

  describe.each(deployments.map((deployment) => [deployment.metadata.name, deployment] as const))('%s', (_name, deployment) => {
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0]!;
    const env = envOf(container);

    it('gives the router longer than preStop plus SHUTDOWN_TIMEOUT before the kill', () => {
      const shutdownMs = parseDuration(env.SHUTDOWN_TIMEOUT?.value ?? '25s')!;
      const preStopMs = (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000;
      expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStopMs + shutdownMs);
      // And the shutdown lets running deliveries reach their own deadline.
      if (roleOf(deployment) === 'worker') expect(shutdownMs).toBeGreaterThan(parseDuration(env.DELIVERY_TIMEOUT?.value ?? '10s')!);
    });

    it('probes paths that every role serves without credentials, on the port it listens on', () => {
      const open = API_OPERATIONS.filter((operation) => operation.method === 'get' && operation.auth === 'none').map((operation) => operation.path);
      const everyRole = ['/healthz', '/readyz', '/metrics'];
      const port = container.ports.find((p) => p.name === 'http')!;
      expect(String(port.containerPort)).toBe(env.PORT?.value);
      for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
        if (!probe) continue;
        expect(open).toContain(probe.httpGet.path);
        expect(everyRole).toContain(probe.httpGet.path);
        expect([port.name, port.containerPort]).toContain(probe.httpGet.port);
      }
      expect(container.livenessProbe.httpGet.path).toBe('/healthz');
      expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    });

    it("runs as the image's numeric user, non-root, read-only, without capabilities", () => {
      const { uid, gid } = imageUser();
      expect(uid).not.toBe(0);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: uid, runAsGroup: gid });
      expect(container.securityContext).toEqual(
        expect.objectContaining({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } }),
      );
      const tmp = container.volumeMounts?.find((mount) => mount.mountPath === '/tmp');
      expect(pod.volumes?.find((volume) => volume.name === tmp?.name)?.emptyDir).toBeDefined();
    });

    it('takes every credential from a Secret', () => {
      for (const variable of container.env) {
        if (SECRET_SETTINGS.includes(variable.name)) {
          expect(variable.value, variable.name).toBeUndefined();
          expect(variable.valueFrom?.secretKeyRef?.name, variable.name).toBeTruthy();
        }
      }
      expect(env.REDIS_URL?.valueFrom?.secretKeyRef).toBeDefined();
      if (roleOf(deployment) === 'api') expect(env.WEBHOOK_TOKENS?.valueFrom?.secretKeyRef && env.ADMIN_TOKEN?.valueFrom?.secretKeyRef).toBeTruthy();
    });

    it('sets requests and limits, with the memory limit above the V8 heap cap', () => {
      expect(container.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      expect(container.resources.limits).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      const mebibytes = (quantity: string | undefined) => Number(/^(\d+)Mi$/.exec(quantity ?? '')?.[1]);
      const heapMb = Number(/--max-old-space-size=(\d+)/.exec(env.NODE_OPTIONS?.value ?? '')?.[1]);
      expect(heapMb).toBeGreaterThan(0);
      // Peak RSS in bench/RESULTS.md is 148-158 MB with a 192 MB heap cap: the limit leaves room over the cap.
      expect(mebibytes(container.resources.limits.memory)).toBeGreaterThan(heapMb + 64);
      expect(mebibytes(container.resources.requests.memory)).toBeGreaterThanOrEqual(160);
    });

    it("is a configuration the router's own loader accepts", () => {
      const literal = Object.fromEntries(container.env.map((variable) => [variable.name, variable.value ?? placeholder(variable.name)]));
      const config = loadConfig(literal);
      expect(config.role).toBe(roleOf(deployment));
      expect(config.host).toBe('0.0.0.0');
    });
  });
});

/** A well-formed stand-in for a value that comes from a Secret. */
function placeholder(name: string): string {
  if (name === 'REDIS_URL') return 'redis://redis.example:6379';
  if (name === 'SMTP_URL') return 'smtp://user:pass@smtp.example:587';
  return `${name.toLowerCase()}-placeholder`;
}
