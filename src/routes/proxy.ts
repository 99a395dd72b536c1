import type { Readable, Transform } from 'node:stream'
import type { IncomingHttpHeaders } from 'node:http'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import replyFrom from '@fastify/reply-from'
import type { Dispatcher } from 'undici'
import { Type } from 'typebox'
import { egressDispatcher, type EgressProxy } from '../egress.ts'
import { HttpProblem } from '../errors.ts'
import { grantFor, type Principal } from '../auth/principals.ts'
import { CONNECTION_NAME_PATTERN_SOURCE } from '../schemas/common.ts'
import { COMMON_PROBLEMS, problemResponses } from '../schemas/problem.ts'
import { PROXY_METHODS } from '../schemas/proxy-rule.ts'
import { isLoginUrlAllowed, type LoginUrlPolicy } from '../salesforce/login-url.ts'
import type { IssuedSession, SessionService } from '../sessions/session-service.ts'
import type { ProxyAccounting } from '../proxy/accounting.ts'
import { apiCall } from '../proxy/api-family.ts'
import { bodyDecoderFor } from '../proxy/decode-answer.ts'
import { methodsToJudge } from '../proxy/method-override.ts'
import { forwardedRequestHeaders, returnedHeaderNames, returnedResponseHeaders } from '../proxy/headers.ts'
import { evaluate } from '../proxy/policy.ts'
import { scrubBuffer, scrubStream } from '../proxy/scrub-stream.ts'
import { readErrorStart, saysInvalidSession } from '../proxy/session-expiry.ts'
import { carriesSubrequests, checkSubrequests, uncheckableBody, type Uncheckable } from '../proxy/subrequests.ts'
import { targetPath } from '../proxy/target-path.ts'
import { buffered, guardedUpload, type UploadFailure } from '../proxy/upload.ts'

export interface ProxyRoutesOptions {
  sessions: SessionService
  accounting: ProxyAccounting
  /** the instance URL of a session must be a Salesforce host (or allow-listed) before the session is sent there */
  loginUrlPolicy: LoginUrlPolicy
  /** largest body forwarded (PROXY_BODY_LIMIT_BYTES) */
  bodyLimitBytes: number
  /** bodies up to this size are held in memory so they can be sent again after a session renewal */
  replayBufferBytes: number
  /** an upload that stops arriving for this long is cut off (408) */
  uploadIdleTimeoutMs: number
  /** how long Salesforce may take to start answering, and between two chunks of its answer */
  upstreamTimeoutMs: number
  /** HTTPS_PROXY, HTTP_PROXY, NO_PROXY: proxied calls take the same way out as the broker's own */
  egress: EgressProxy
}

type ReplyFromUndici = NonNullable<Parameters<typeof replyFrom>[1]>['undici']

export const PROXY_PREFIX = '/v1/connections/:name/salesforce'

const ProxyParams = Type.Object({
  name: Type.String({ pattern: CONNECTION_NAME_PATTERN_SOURCE, description: 'Connection name' }),
  '*': Type.String({ description: 'The Salesforce path from /services/ on, e.g. services/data/v62.0/query' }),
}, { additionalProperties: false })

interface Instance { allowed: boolean, origin: string, host: string }

interface Forwarding {
  name: string
  principal: Principal
  session: IssuedSession
  /** the checked path and the query as received */
  path: string
  query: string
  /** a body held in memory (replayable), or the streamed one (not) */
  body: Buffer | Readable | undefined
  uploadFailure: () => UploadFailure | undefined
  attempt: number
  /** when the call was first sent: a healed call's latency includes the renewal and the second send */
  started: number
}

/**
 * Proxy mode: `/v1/connections/{name}/salesforce/services/...` is sent to the connection's instance
 * URL with the broker's session. The caller authenticates as for sessions and never sees the token;
 * its grant's rules decide which calls pass (src/proxy/policy.ts); bodies stream both ways; a
 * Salesforce INVALID_SESSION_ID is healed through the session service (verified, one login fleet-wide)
 * and the call sent once more.
 */
const proxyRoutes: FastifyPluginAsync<ProxyRoutesOptions> = async (app, opts) => {
  // The pool is the broker's, not reply-from's own Agent: the egress decision (src/egress.ts) picks
  // the proxy per instance host (HTTPS_PROXY, HTTP_PROXY, none for a NO_PROXY host), as it does for
  // logins, so a network that only lets Salesforce traffic out through a proxy carries proxy mode too.
  // reply-from does not close a dispatcher it was given: onClose does.
  const dispatcher = egressDispatcher(opts.egress, {}, { connections: 128, headersTimeout: opts.upstreamTimeoutMs, bodyTimeout: opts.upstreamTimeoutMs })
  app.addHook('onClose', async () => { await dispatcher.close() })
  await app.register(replyFrom, {
    disableCache: true,
    disableRequestLogging: true,
    // no call is sent twice on the broker's own account: reply-from sends a GET or HEAD that
    // Salesforce answered 503 up to 10 times more (maxRetriesOn503: 0 reads as its default), each an
    // API call against the org's daily limit. The caller sees the 503 and decides.
    retryMethods: [],
    // reply-from bundles its own undici and recognises another one's dispatcher by its request() method
    undici: { request: requestDroppingAbortedAnswers(dispatcher) } as unknown as ReplyFromUndici,
  })
  // Bodies are not parsed here: the raw stream goes to Salesforce (a 100 MB Bulk upload is never buffered).
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => { done(null, payload) })

  // an instance URL is parsed and checked once, not for every call (a handful per broker: one per org)
  const instances = new Map<string, Instance>()
  const instance = (instanceUrl: string): Instance => {
    let known = instances.get(instanceUrl)
    if (known === undefined) {
      const { origin, host } = new URL(instanceUrl)
      known = { allowed: isLoginUrlAllowed(origin, opts.loginUrlPolicy), origin, host }
      instances.set(instanceUrl, known)
    }
    return known
  }

  const handler = async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply): Promise<FastifyReply> => {
    const { name } = request.params
    const principal = request.principal as Principal
    const grant = grantFor(principal, name)
    if (!grant) throw new HttpProblem('forbidden', 'this caller has no grant for that connection')
    const target = targetPath(request.raw.url ?? '', `/v1/connections/${name}/salesforce`)
    if (!target.ok) {
      if (target.reason === 'not_forwarded') throw new HttpProblem('not_found', 'the proxy forwards /services/data/... and /services/apexrest/... only')
      if (target.reason === 'credentials_api') throw credentialsApiRefused()
      throw new HttpProblem('malformed_url', 'the path has a dot segment, an empty segment, or an escaped slash, dot, backslash, semicolon or percent sign')
    }
    if (grant.rules) {
      // the request's method and Salesforce's _HttpMethod override in the query, if any (proxy/method-override.ts)
      const judged = methodsToJudge(request.method, target.query)
      if (!judged.ok) throw new HttpProblem('malformed_url', 'the query string names the _HttpMethod override more than once, or cannot be decoded')
      const call = apiCall(target.path)
      for (const method of judged.methods) {
        const verdict = evaluate(grant.rules, method, call)
        if (!verdict.allowed) throw new HttpProblem('policy_denied', 'no rule of this caller\'s grant allows this call: requiredRule is one that would', { connection: name, requiredRule: verdict.requiredRule })
      }
    }
    // the rest of a refused body is not read: the connection can't carry another request
    const closeWithBodyUnread = (err: unknown): never => {
      if (hasBody(request)) reply.header('connection', 'close')
      throw err
    }
    if (declaredOversize(request, opts.bodyLimitBytes)) closeWithBodyUnread(new HttpProblem('payload_too_large', 'the request body exceeds the proxy\'s size limit'))
    // sub-requests are checked as the path is (proxy/subrequests.ts): their body is read whole first, as JSON
    const subrequests = hasBody(request) && carriesSubrequests(target.path)
    const bufferUpTo = subrequests ? Math.max(opts.replayBufferBytes, SUBREQUESTS_BODY_MAX_BYTES) : opts.replayBufferBytes
    const uncheckable = subrequests ? uncheckableBody(request.headers, bufferUpTo) : undefined
    if (uncheckable !== undefined) closeWithBodyUnread(UNCHECKABLE[uncheckable]())
    // the session first, the body after: a login the call waits for (a cold cache, another replica's
    // login) must not count as the caller's upload standing still (PROXY_UPLOAD_IDLE_TIMEOUT_MS)
    const session = opts.sessions.cachedInProcess(name) ?? await opts.sessions.getSession(name, undefined, principal.id).catch(closeWithBodyUnread)
    // a sub-request body (at most 8 MiB) is read and checked before the call is counted; any other
    // body only once it is (an upload over the caller's cap is not read at all)
    const checked = subrequests ? await checkedSubrequestBody(request, opts, bufferUpTo, closeWithBodyUnread) : undefined
    // counted once the broker's own refusals (size, session, sub-requests) are behind: a cap protects
    // the org's API budget, and a call refused before it could reach Salesforce spent none of it
    const admission = await opts.accounting.admit(principal.id, { perMinute: principal.proxyCallsPerMinute, perDay: principal.proxyCallsPerDay })
    if (!admission.ok) {
      closeWithBodyUnread(new HttpProblem('proxy_quota_exceeded', `this caller's proxied calls per ${admission.period} are used up`, { quota: { period: admission.period, limit: admission.limit } }, admission.retryAfterSeconds))
    }
    const { body, uploadFailure } = checked ?? await requestBody(request, opts, bufferUpTo).catch(closeWithBodyUnread)
    return forward(request, reply, { name, principal, session, path: target.path, query: target.query, body, uploadFailure, attempt: 1, started: performance.now() })
  }

  const forward = (request: FastifyRequest, reply: FastifyReply, f: Forwarding): FastifyReply => {
    const { instanceUrl, accessToken } = f.session.entry.session
    const upstream = instance(instanceUrl)
    if (!upstream.allowed) throw new HttpProblem('bad_gateway', 'the session\'s instance URL is not a Salesforce host the broker may send sessions to')
    if (f.body instanceof Buffer) request.body = undefined
    return reply.from(f.path, {
      getUpstream: () => upstream.origin,
      queryString: () => f.query.slice(1),
      ...(f.body instanceof Buffer ? { body: f.body, contentType: request.headers['content-type'] ?? 'application/octet-stream' } : {}),
      rewriteRequestHeaders: () => forwardedRequestHeaders(request.headers, accessToken, upstream.host),
      rewriteHeaders: (headers: IncomingHttpHeaders) => returnedResponseHeaders(headers, accessToken),
      onError: (_reply, { error }) => {
        const failed = f.uploadFailure()
        if (failed) reply.header('connection', 'close')
        if (failed === 'payload_too_large') return reply.send(new HttpProblem('payload_too_large', 'the request body exceeds the proxy\'s size limit'))
        if (failed === 'request_timeout') return reply.send(new HttpProblem('request_timeout', 'the request body stopped arriving'))
        // reply-from hands on an error it does not know wrapped (an InternalServerError with it as `cause`)
        if (((error as { cause?: { code?: string } }).cause ?? error as { code?: string }).code === UNREADABLE_TRANSFER) {
          return reply.send(unreadableEncoding(f.name))
        }
        const timedOut = (error as { statusCode?: number }).statusCode === 504
        request.log.warn({ connection: f.name, code: (error as { code?: string }).code }, 'proxied call failed')
        reply.send(new HttpProblem(timedOut ? 'gateway_timeout' : 'bad_gateway', timedOut ? 'Salesforce did not answer in time' : 'Salesforce could not be reached', { connection: f.name, retryable: true }))
      },
      onResponse: (_request, _reply, raw) => {
        // at run time the upstream answer: status, headers and its body stream (the types name a ServerResponse)
        const res = raw as unknown as { statusCode: number, headers: IncomingHttpHeaders, stream: Readable }
        // one observation per answer the caller sees: the 401 of a healed call is not one
        const ms = performance.now() - f.started
        let observed = false
        const observe = (): void => {
          if (!observed) opts.accounting.observe(f.principal.id, f.name, res.statusCode, ms)
          observed = true
        }
        opts.accounting.usage(f.name, res.headers['sforce-limit-info'])
        if (res.statusCode === 401 && f.attempt === 1) {
          heal(request, reply, f, res.stream, res.headers, observe).catch((err: unknown) => {
            // the call reached Salesforce and was not sent again: its 401 is counted
            observe()
            if (reply.sent) return
            dropSalesforceHeaders(reply, res.headers, accessToken)
            reply.send(err)
          })
          return
        }
        observe()
        answer(request, reply, res.stream, res.statusCode, res.headers, accessToken, f.name)
      },
    })
  }

  /**
   * A 401: INVALID_SESSION_ID → a renewed session and once more, else the 401 as it came (decoded
   * and scrubbed, as every answer is). Salesforce's errorCode is read from the start of the body;
   * a HEAD answer has none, so the session service is asked instead: it confirms with Salesforce
   * that the session is dead before it logs in, and hands back the same session when it is not.
   */
  const heal = async (request: FastifyRequest, reply: FastifyReply, f: Forwarding, upstream: Readable, headers: IncomingHttpHeaders, observe: () => void): Promise<void> => {
    const used = f.session.entry.session.accessToken
    const retry = (renewed: IssuedSession): void => {
      if (f.body !== undefined && !(f.body instanceof Buffer)) {
        throw new HttpProblem('session_renewed', 'Salesforce ended the session while the body streamed; it is renewed: send the request again', { connection: f.name, retryable: true }, 1)
      }
      dropSalesforceHeaders(reply, headers, used)
      forward(request, reply, { ...f, session: renewed, attempt: 2 })
    }
    if (request.method === 'HEAD') {
      upstream.resume()
      const renewed = await opts.sessions.getSession(f.name, used, f.principal.id)
      if (renewed.entry.session.accessToken !== used) return retry(renewed)
      observe()
      reply.send()
      return
    }
    const decoder = bodyDecoderFor(request.method, 401, headers['content-encoding'])
    if (decoder === null) {
      upstream.resume()
      throw unreadableEncoding(f.name)
    }
    const body = decodedBody(upstream, decoder)
    const { start, ended } = await readErrorStart(body).catch(() => { throw unreadableAnswer(f.name) })
    const passThrough = (): void => {
      observe()
      reply.removeHeader('content-length')
      // the forms every answer is scrubbed of (proxy/scrub-stream.ts), UTF-16 included, as a streamed 401's rest is
      if (ended) reply.send(scrubBuffer(used, start))
      else sendScrubbed(reply, body, upstream, used, f.name, headers, start)
    }
    if (!saysInvalidSession(start.toString('utf8'))) return passThrough()
    // the same path a caller's rejectedToken takes: Salesforce confirms the session is dead, then one login fleet-wide
    const renewed = await opts.sessions.getSession(f.name, used, f.principal.id)
    if (renewed.entry.session.accessToken === used) return passThrough()
    if (!ended) body.resume()
    retry(renewed)
  }

  for (const method of PROXY_METHODS) {
    app.route({
      method,
      url: `${PROXY_PREFIX}/*`,
      exposeHeadRoute: false,
      config: { auth: 'service', swaggerTransform: documentedPath },
      schema: {
        tags: ['proxy'],
        operationId: `proxy${method[0]}${method.slice(1).toLowerCase()}`,
        summary: `${method} a Salesforce REST resource through the broker`,
        description: 'Sends the call to the connection\'s instance URL with the broker\'s session; the caller never sees the token. Only /services/data/... (not the OAuth credentials API, apps/oauth/..., nor a user\'s password, sobjects/User/{id}/password: 403) and /services/apexrest/... are forwarded; the query string passes unchanged; Sforce-* and a few standard headers pass both ways (README, Proxy mode). A grant with rules allows only what a rule names (403 policy_denied names a rule that would allow the call). Salesforce\'s answer, whatever its status, streams back as it came, with echoes of the session scrubbed.',
        security: [{ bearer: [] }],
        params: ProxyParams,
        response: {
          '2xx': { description: 'Salesforce\'s answer, streamed', content: { 'application/json': { schema: {} }, 'text/csv': { schema: {} } } },
          ...problemResponses(...COMMON_PROBLEMS, 'unauthenticated', 'forbidden', 'policy_denied', 'not_found', 'request_timeout', 'rate_limited', 'proxy_quota_exceeded', 'session_renewal_throttled', 'flow_retired',
            'salesforce_login_failed', 'circuit_open', 'salesforce_unavailable', 'login_wait_timeout', 'secret_store_unavailable', 'session_renewed', 'bad_gateway', 'gateway_timeout', 'shutting_down'),
        },
      },
      handler,
    })
  }
}

/**
 * The dispatcher's request() as reply-from calls it, with a listener on every answer's body that
 * keeps its 'error' from being unhandled. When the caller has gone before Salesforce answers,
 * reply-from destroys the answer's body and never hands it on; undici then emits a
 * RequestAbortedError on that body, and without a listener the process went down (any caller
 * could stop the broker by hanging up at the right moment). The answers that are handed on have
 * the route's own error handling (`answer`, `wholeAnswer`, `sendScrubbed`, `readErrorStart`).
 */
function requestDroppingAbortedAnswers (dispatcher: Dispatcher): Dispatcher['request'] {
  const request = (options: Dispatcher.RequestOptions, callback: (err: Error | null, data: Dispatcher.ResponseData) => void): void => {
    dispatcher.request(options, (err, data) => {
      // an error answers with no body (undici hands `{ opaque }` then)
      data?.body?.on('error', ignore)
      // undici takes off the chunking only, and reply-from drops the header before the route sees it:
      // a body still compressed by its transfer coding (`gzip, chunked`, RFC 9112 §6.1) would pass unscrubbed
      const transfer = data?.headers?.['transfer-encoding']
      if (err === null && transfer !== undefined && String(transfer).trim().toLowerCase() !== 'chunked') {
        data.body.destroy()
        callback(Object.assign(new Error('an answer in a transfer coding the proxy cannot read'), { code: UNREADABLE_TRANSFER }), data)
        return
      }
      callback(err, data)
    })
  }
  return request as Dispatcher['request']
}

/** The error requestDroppingAbortedAnswers hands reply-from for an answer in a transfer coding other than chunked. */
const UNREADABLE_TRANSFER = 'SFB_UNREADABLE_TRANSFER_CODING'

function ignore (): void {}

/**
 * A composite or batch body is read whole (its sub-requests are checked: proxy/subrequests.ts) up to
 * this size, or PROXY_REPLAY_BUFFER_BYTES when that is larger. Composite carries at most 25
 * sub-requests (REST API Developer Guide, "Composite"); their records rarely come near it.
 */
const SUBREQUESTS_BODY_MAX_BYTES = 8 * 1024 * 1024

/** Why a composite or batch body cannot be checked (proxy/subrequests.ts uncheckableBody), as the caller is told. */
const UNCHECKABLE: Record<Uncheckable, () => HttpProblem> = {
  compressed: () => new HttpProblem('unsupported_media_type', 'a composite or batch body passes the proxy uncompressed only: its sub-requests are checked before it goes'),
  not_utf8_json: () => new HttpProblem('unsupported_media_type', 'a composite or batch body passes the proxy as JSON in UTF-8 only (Content-Type: application/json): its sub-requests are checked before it goes'),
  unsized: () => new HttpProblem('payload_too_large', 'a composite or batch body is read whole to check its sub-requests: it needs a Content-Length, of at most 8 MiB (or PROXY_REPLAY_BUFFER_BYTES if larger)'),
}

/** A composite or batch body read whole and checked (proxy/subrequests.ts); refused when it names one of the broker's credentials or is not JSON. */
async function checkedSubrequestBody (request: FastifyRequest, opts: ProxyRoutesOptions, bufferUpTo: number, refuse: (err: unknown) => never): ReturnType<typeof requestBody> {
  const read = await requestBody(request, opts, bufferUpTo).catch(refuse)
  if (read.body instanceof Buffer) {
    const checked = checkSubrequests(read.body)
    if (checked === 'unreadable') throw new HttpProblem('malformed_json', 'a composite or batch body passes the proxy as UTF-8 JSON only, and this one does not parse')
    if (checked === 'credentials_api') throw credentialsApiRefused()
  }
  return read
}

function credentialsApiRefused (): HttpProblem {
  return new HttpProblem('forbidden', 'the proxy does not forward the OAuth credentials API (/services/data/vXX.X/apps/oauth/...) or a user\'s password (sobjects/User/{id}/password), as a path or a sub-request: the broker\'s own credentials are managed through its admin API only')
}

/** OpenAPI path templates have no wildcard: the document names the rest of the path {salesforcePath} (it may hold slashes). */
const DocumentedParams = Type.Object({
  name: ProxyParams.properties.name,
  salesforcePath: Type.String({ description: 'The Salesforce path from services/ on, e.g. services/data/v62.0/query (slashes included, not escaped)' }),
})
function documentedPath ({ schema, url }: { schema: object, url: string }): { schema: object, url: string } {
  return { schema: { ...schema, params: DocumentedParams }, url: url.replace(/\/\*$/, '/{salesforcePath}') }
}

/** The body's length as the caller's Content-Length declares it; undefined without one. */
function declaredLength (request: FastifyRequest): number | undefined {
  const header = request.headers['content-length']
  return header === undefined ? undefined : Number(header)
}

/** A body whose Content-Length is over the proxy's limit: refused before anything else (a login included). */
function declaredOversize (request: FastifyRequest, limitBytes: number): boolean {
  const declared = declaredLength(request)
  return hasBody(request) && declared !== undefined && declared > limitBytes
}

/** Whether the request carries a body (the proxy's parser hands it on as a stream, unread). */
function hasBody (request: FastifyRequest): boolean {
  const raw = request.body as Readable | undefined | null
  return raw !== undefined && raw !== null && typeof raw.pipe === 'function'
}

/** The request body, guarded: in memory when small enough to send twice, else the stream itself. */
async function requestBody (request: FastifyRequest, opts: ProxyRoutesOptions, bufferUpTo: number): Promise<{ body: Buffer | Readable | undefined, uploadFailure: () => UploadFailure | undefined }> {
  if (!hasBody(request)) return { body: undefined, uploadFailure: () => undefined }
  const raw = request.body as Readable
  const declared = declaredLength(request)
  const guarded = guardedUpload(raw, opts.bodyLimitBytes, opts.uploadIdleTimeoutMs)
  if (declared !== undefined && declared <= bufferUpTo) {
    try {
      return { body: await buffered(guarded.body), uploadFailure: guarded.failure }
    } catch (err) {
      const failed = guarded.failure()
      if (failed === 'request_timeout') throw new HttpProblem('request_timeout', 'the request body stopped arriving')
      if (failed === 'payload_too_large') throw new HttpProblem('payload_too_large', 'the request body exceeds the proxy\'s size limit')
      throw err
    }
  }
  request.body = guarded.body
  return { body: guarded.body, uploadFailure: guarded.failure }
}

/**
 * Answers up to this size that announce their length are read whole, scrubbed in one pass and sent
 * in one write with their Content-Length, instead of streamed chunked through a Transform: most
 * REST answers are a few KiB, and the stream machinery and the extra writes were a large part of
 * the proxy's own CPU per call (bench/profile-hot.ts proxy). At most this much per call in flight.
 */
const WHOLE_ANSWER_MAX_BYTES = 64 * 1024

/** Salesforce's answer to the caller: decoded if it came compressed, the session's echoes scrubbed. */
function answer (request: FastifyRequest, reply: FastifyReply, stream: Readable, status: number, headers: IncomingHttpHeaders, token: string, connection: string): void {
  const decoder = bodyDecoderFor(request.method, status, headers['content-encoding'])
  if (decoder === null) {
    stream.resume()
    dropSalesforceHeaders(reply, headers, token)
    reply.send(unreadableEncoding(connection))
    return
  }
  const declared = headers['content-length'] === undefined ? Number.NaN : Number(headers['content-length'])
  if (decoder === undefined && request.method !== 'HEAD' && declared <= WHOLE_ANSWER_MAX_BYTES) {
    wholeAnswer(reply, stream, headers, token, connection)
    return
  }
  sendScrubbed(reply, decodedBody(stream, decoder), stream, token, connection, headers)
}

/** The upstream body, through its decoder when it came compressed (an upstream error ends the decoder too). */
function decodedBody (upstream: Readable, decoder: Transform | undefined): Readable {
  if (decoder === undefined) return upstream
  upstream.on('error', (err) => { decoder.destroy(err) })
  return upstream.pipe(decoder)
}

/** The headers copied from Salesforce's answer taken off again: the answer is now the broker's own (a problem, or a call sent once more). */
function dropSalesforceHeaders (reply: FastifyReply, headers: IncomingHttpHeaders, token: string): void {
  for (const header of returnedHeaderNames(headers, token)) reply.removeHeader(header)
}

/** A 502 not worth retrying: Salesforce's answer is in a content or transfer coding the proxy cannot read (and so could not scrub). */
function unreadableEncoding (connection: string): HttpProblem {
  return new HttpProblem('bad_gateway', 'Salesforce answered in a content or transfer encoding the proxy cannot read', { connection, retryable: false })
}

/** A 502 the caller may retry: Salesforce broke its answer off, or it is not in the encoding it names. */
function unreadableAnswer (connection: string): HttpProblem {
  return new HttpProblem('bad_gateway', 'Salesforce\'s answer could not be read: broken off, or not in the content encoding it names', { connection, retryable: true })
}

/**
 * A (decoded) body streamed to the caller with the session's echoes scrubbed, after `start` when
 * part of it was read already. A body that fails before anything was sent (a gzip answer that is
 * not gzip) is a 502 instead of Salesforce's headers; one that fails later ends the caller's answer.
 */
function sendScrubbed (reply: FastifyReply, body: Readable, upstream: Readable, token: string, connection: string, headers: IncomingHttpHeaders, start?: Buffer): void {
  const scrub = scrubStream(token)
  // pipe, not stream.pipeline: pipeline aborts an AbortController (a DOMException with a stack) for
  // every finished answer. What pipeline did on failure is done here: an upstream or decoder error
  // ends the caller's answer (Fastify destroys the response when its payload errors), and a caller
  // that goes away (Fastify destroys the payload) aborts the upstream request.
  const teardown = (err?: Error): void => {
    if (!scrub.destroyed) {
      if (err !== undefined && !reply.raw.headersSent) {
        dropSalesforceHeaders(reply, headers, token)
        scrub.destroy(unreadableAnswer(connection))
      } else {
        scrub.destroy(err)
      }
    }
    if (body !== upstream && !body.destroyed) body.destroy()
    if (!upstream.destroyed && !upstream.readableEnded) upstream.destroy()
  }
  upstream.on('error', teardown)
  if (body !== upstream) body.on('error', teardown)
  scrub.on('close', teardown)
  if (start !== undefined) scrub.write(start)
  body.pipe(scrub)
  reply.send(scrub)
}

/** A small answer read whole: one scrub, one write; broken off by Salesforce, a 502 the caller may retry. */
function wholeAnswer (reply: FastifyReply, stream: Readable, headers: IncomingHttpHeaders, token: string, connection: string): void {
  const chunks: Buffer[] = []
  stream.on('data', (chunk: Buffer) => { chunks.push(chunk) })
  stream.once('error', () => {
    stream.destroy()
    if (reply.sent || reply.raw.destroyed) return
    dropSalesforceHeaders(reply, headers, token)
    reply.send(new HttpProblem('bad_gateway', 'Salesforce broke off its answer', { connection, retryable: true }))
  })
  stream.once('end', () => {
    // a caller that went away meanwhile gets nothing: the answer was at most WHOLE_ANSWER_MAX_BYTES
    if (reply.raw.destroyed) return
    const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
    reply.send(scrubBuffer(token, body))
  })
}

export default proxyRoutes
