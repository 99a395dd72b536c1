import type { Server as TlsServer } from 'node:tls'
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { Config } from './config.ts'
import { createBroker, type Broker, type BrokerOverrides } from './broker.ts'
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandling } from './error-handler.ts'
import authPlugin from './auth/plugin.ts'
import { registerAuditGate } from './http/audit-gate.ts'
import { ProblemSchema } from './schemas/problem.ts'
import { SessionSchema } from './schemas/session.ts'
import probeRoutes from './routes/probes.ts'
import sessionRoutes from './routes/sessions.ts'
import proxyRoutes from './routes/proxy.ts'
import adminRoutes from './routes/admin.ts'
import migrationRoutes from './routes/migration.ts'
import consumerRotationRoutes from './routes/consumer-rotation.ts'
import { ConsumerRotationSchema } from './schemas/consumer-rotation.ts'
import certificateRotationRoutes from './routes/certificate-rotation.ts'
import { flowSunsetPolicyOf } from './admin/flow-sunset-policy.ts'
import { ConnectionHealthSchema, SalesforceHealthSchema, SalesforceHealthSummarySchema } from './health/schemas.ts'
import salesforceHealthRoutes from './routes/salesforce-health.ts'
import metricsRoutes from './routes/metrics.ts'
import notificationRoutes from './routes/notifications.ts'
import statusRoutes from './routes/status.ts'
import { ConnectionMetadataSchema, ValidationResultSchema } from './schemas/connection.ts'
import { MigrationSchema } from './schemas/migration.ts'
import { HttpProblem } from './errors.ts'
import { AccessLog } from './http/access-log.ts'
import { requestId } from './http/request-id.ts'
import { sharedSerializerBuilds } from './http/serializer-builds.ts'
import { closeIdleSocketsUnlessAnswering, noteAnswer } from './http/socket-idle.ts'
import { trackConnections } from './http/close-after-answer.ts'
import { routeUnmetExpectations, unmetExpectation } from './http/expectation.ts'
import { readTlsMaterial, reloadTlsOnChange, type TlsFiles } from './http/tls.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** the broker's services, for serve.ts (seeding, start-up) and tests; routes get what they need as plugin options */
    broker: Broker
  }
}

/** The OpenAPI document's info.version: the package version (package.json), held to it by test/release.test.ts */
export const API_VERSION = '0.1.0'

/**
 * The only way a broker app is made: by the server, tests, the OpenAPI export and benchmarks.
 * Dependencies not passed in `overrides` are built from `config`.
 */
export async function buildApp (config: Config, overrides: BrokerOverrides = {}): Promise<FastifyInstance> {
  const tls = tlsFiles(config)
  // before the broker (Redis, Vault) is built: a certificate that cannot serve is a configuration error at once
  const tlsMaterial = tls ? readTlsMaterial(tls) : undefined
  const broker = await createBroker(config, overrides)
  const requestTimeout = config.REQUEST_TIMEOUT_SECONDS * 1000
  // Node checks requestTimeout every connectionsCheckingInterval (30 s by default: often enough for the one
  // configured), and only while headersTimeout is no longer than it (Fastify sets requestTimeout after the server
  // is made, which leaves headersTimeout at 60 s: a shorter requestTimeout then never fired)
  const serverOptions = {
    maxHeaderSize: config.MAX_HEADER_BYTES,
    headersTimeout: Math.min(60_000, requestTimeout),
    connectionsCheckingInterval: Math.min(30_000, Math.max(250, requestTimeout / 4)),
  }
  const app = Fastify({
    // HTTPS when TLS_CERT_FILE/TLS_KEY_FILE are set; the type stays the HTTP one (same API)
    // maxHeaderSize is an option of Node's createServer (http and https alike): over it, Node's
    // parser refuses the request before Fastify sees it and clientErrorHandler answers 431 problem+json
    ...(tlsMaterial ? { https: { ...tlsMaterial, ...serverOptions } } as object : { http: serverOptions }),
    loggerInstance: broker.logger as FastifyBaseLogger,
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    // a silent caller must not hold a socket forever (closeIdleSocketsUnlessAnswering decides whose silence it is);
    // Kubernetes keeps connections 60 s+
    connectionTimeout: config.SOCKET_IDLE_TIMEOUT_MS,
    keepAliveTimeout: 65_000,
    // a request's whole arrival, a proxied Bulk upload's included (REQUEST_TIMEOUT_SECONDS)
    requestTimeout,
    // refused during shutdown by the onRequest hook below: a problem+json with Retry-After, logged
    return503OnClosing: false,
    genReqId: requestId,
    logController: new AccessLog(broker.metrics),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
    // one serializer per distinct response schema, not one per route and status (start-up CPU)
    schemaController: { compilersFactory: { buildSerializer: sharedSerializerBuilds() } },
    // compile: each method's routing tree as generated code instead of a walk per request (same matching)
    routerOptions: { maxParamLength: 200, compile: true },
    // the router's and Node's own refusals answer problem+json too, without quoting the input
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
  }).withTypeProvider<TypeBoxTypeProvider>()

  app.decorate('broker', broker)
  // an Expect other than 100-continue: refused by the onRequest hook below as problem+json, not by Node's empty 417
  routeUnmetExpectations(app.server, app.routing)
  // the longest answer: a login wait, Salesforce's answer, once more after a session healed by a new login
  closeIdleSocketsUnlessAnswering(app.server, { workLimitMs: config.LOGIN_WAIT_TIMEOUT_MS + 2 * config.PROXY_UPSTREAM_TIMEOUT_MS + config.SOCKET_IDLE_TIMEOUT_MS })
  if (tls) {
    const stopTls = reloadTlsOnChange(app.server as unknown as TlsServer, tls, app.log)
    app.addHook('onClose', async () => stopTls())
  }
  app.addSchema(ProblemSchema)
  app.addSchema(SessionSchema)
  app.addSchema(ConnectionMetadataSchema)
  app.addSchema(ValidationResultSchema)
  app.addSchema(MigrationSchema)
  app.addSchema(ConsumerRotationSchema)
  app.addSchema(ConnectionHealthSchema)
  app.addSchema(SalesforceHealthSchema)
  app.addSchema(SalesforceHealthSummarySchema)
  registerErrorHandling(app)

  // Before any other hook (auth included), so that refusals carry the request id too.
  let closing = false
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    noteAnswer(reply.raw)
    if (closing) return done(new HttpProblem('shutting_down', 'this replica is stopping: send the request again', { retryable: true }, 1))
    if (unmetExpectation(request.raw)) return done(new HttpProblem('expectation_failed', 'send the request without an Expect header (or with Expect: 100-continue)'))
    done()
  })

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'sf-broker',
        version: API_VERSION,
        description: 'Credential broker for Salesforce: internal services get short-lived Salesforce sessions; admins rotate the secrets kept in Vault.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      servers: [{ url: '/' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'API key (sfb.<principal>.<secret>) or a JWT verified against JWKS_URL' },
          metricsToken: { type: 'http', scheme: 'bearer', description: 'METRICS_TOKEN, when the broker is configured with one' },
        },
      },
      tags: [
        { name: 'sessions', description: 'Salesforce sessions for internal services' },
        { name: 'proxy', description: 'Salesforce REST calls through the broker, under per-caller policy, without a token leaving it' },
        { name: 'admin', description: 'Connection management and rotation (admin principals)' },
        { name: 'health', description: 'Probes and Salesforce credential health' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })
  if (config.DOCS_ENABLED) await app.register(swaggerUi, { routePrefix: '/docs' })

  await app.register(authPlugin, {
    directory: broker.principals,
    jwtVerifier: broker.jwtVerifier,
    defaultRateLimitPerMinute: config.CALLER_RATE_LIMIT_PER_MINUTE,
  })
  registerAuditGate(app, broker.audit)
  await app.register(probeRoutes, { secretStore: broker.cachingSecretStore, sharedState: broker.sharedState })
  await app.register(salesforceHealthRoutes, {
    ...broker.health.service,
    state: broker.sharedState,
    audit: broker.audit,
    publicDetails: config.HEALTH_DETAILS === 'public',
  })
  await app.register(statusRoutes, { reporter: broker.health.service.reporter, notifier: broker.notifier, publicDetails: config.HEALTH_DETAILS === 'public' })
  await app.register(notificationRoutes, { deadLetters: broker.deadLetters })
  await app.register(sessionRoutes, { sessions: broker.sessions, handouts: broker.handouts })
  await app.register(proxyRoutes, {
    sessions: broker.sessions,
    accounting: broker.proxyAccounting,
    loginUrlPolicy: broker.loginUrlPolicy,
    bodyLimitBytes: config.PROXY_BODY_LIMIT_BYTES,
    replayBufferBytes: config.PROXY_REPLAY_BUFFER_BYTES,
    uploadIdleTimeoutMs: config.PROXY_UPLOAD_IDLE_TIMEOUT_MS,
    upstreamTimeoutMs: config.PROXY_UPSTREAM_TIMEOUT_MS,
    egress: { httpsProxy: config.HTTPS_PROXY, httpProxy: config.HTTP_PROXY, noProxy: config.NO_PROXY },
  })
  await app.register(adminRoutes, { admin: broker.admin, audit: broker.audit, flowSunsetPolicy: flowSunsetPolicyOf(broker) })
  await app.register(migrationRoutes, { migrations: broker.migrations })
  await app.register(consumerRotationRoutes, { rotations: broker.consumerRotations })
  await app.register(certificateRotationRoutes, { rotation: broker.certificateRotation })
  await app.register(metricsRoutes, { metrics: broker.metrics, token: config.METRICS_TOKEN })

  // Requests in flight at shutdown finish, but their keep-alive connections must not hold
  // server.close() open until the keep-alive timeout: answer them with Connection: close
  // (close-after-answer.ts).
  // the re-validation scheduler runs while the app serves; it stops before the broker closes Redis under a running validation
  app.addHook('onReady', async () => { broker.health.start() })
  const connections = trackConnections(app.server)
  app.addHook('preClose', async () => {
    closing = true
    connections.closeAfterAnswers()
    await broker.health.stop()
    broker.sessions.stopBy(Date.now() + answerWindowMs(config.SHUTDOWN_TIMEOUT_MS))
  })
  app.addHook('onClose', async () => {
    const { cutShort, abandonedLogins } = broker.sessions.shutdownTally
    if (cutShort > 0 || abandonedLogins > 0) {
      app.log.warn({ cutShort, abandonedLogins }, 'shutdown: requests still waiting for Salesforce were answered 503 shutting_down')
    }
    await broker.close()
  })
  return app
}

function tlsFiles (config: Config): TlsFiles | null {
  if (!config.TLS_CERT_FILE || !config.TLS_KEY_FILE) return null
  return { certFile: config.TLS_CERT_FILE, keyFile: config.TLS_KEY_FILE, intervalMs: config.TLS_RELOAD_SECONDS * 1000 }
}

/**
 * How long after close begins requests may still wait for Salesforce: the rest of the shutdown
 * budget answers them, releases the login lease and closes Redis and Vault before the deadline.
 */
function answerWindowMs (shutdownTimeoutMs: number): number {
  return shutdownTimeoutMs - Math.min(2_000, shutdownTimeoutMs / 2)
}
