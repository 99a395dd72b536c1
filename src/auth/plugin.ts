import fp from 'fastify-plugin'
import type { FastifyContextConfig, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, onRequestHookHandler } from 'fastify'
import { HttpProblem } from '../errors.ts'
import { looksLikeApiKey, verifyApiKey } from './api-key.ts'
import type { JwtVerifier } from './jwt.ts'
import type { Principal, PrincipalDirectory } from './principals.ts'
import { CallerRateLimiter } from './rate-limit.ts'
import { hasRole, roleOf, roleSentence, type Role } from './roles.ts'

declare module 'fastify' {
  interface FastifyRequest {
    /** the authenticated caller or admin; set on routes whose config.auth is set */
    principal: Principal | null
  }
  interface FastifyContextConfig {
    /**
     * which kind of principal the route is for; absent = public (health, docs); 'optional' = public,
     * but a credential that is sent must verify, and the route may show a principal more
     */
    auth?: 'service' | 'admin' | 'optional'
    /** with auth 'admin': the least role the operation needs (src/auth/roles.ts); absent = admin */
    role?: Role
  }
}

export interface AuthPluginOptions {
  directory: PrincipalDirectory
  jwtVerifier?: JwtVerifier
  defaultRateLimitPerMinute: number
}

function bearerToken (request: FastifyRequest): string | null {
  const header = request.headers.authorization
  if (typeof header !== 'string') return null
  const match = /^Bearer +([^\s]{1,8192})$/i.exec(header.trim())
  return match ? match[1] : null
}

/**
 * Authenticates every route that declares `config.auth`, before the body is even parsed, and
 * rations each principal's requests. Services and admins authenticate the same way (API key or
 * JWT) but are different principals: the wrong kind gets 403.
 */
async function authPlugin (app: FastifyInstance, opts: AuthPluginOptions): Promise<void> {
  const limiter = new CallerRateLimiter()
  app.decorateRequest('principal', null)

  // Every admin operation states its role in the OpenAPI document, from the same config the check
  // below reads: the document cannot say one role while the broker demands another.
  app.addHook('onRoute', (route) => {
    if (route.config?.auth !== 'admin' || !route.schema) return
    const role = route.config.role ?? 'admin'
    const schema = route.schema as Record<string, unknown>
    // a schema object shared by two routes (GET and its HEAD, a helper's constant) is documented once
    if (schema['x-required-role'] === role) return
    schema['x-required-role'] = role
    schema.description = [schema.description, roleSentence(role)].filter(Boolean).join(' ')
  })

  /** The principal's admission to a route that requires `required` (and, for admin routes, `role`). */
  const admit = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction, required: Required, role: Role | undefined, principal: Principal | null): void => {
    if (!principal) return done(new HttpProblem('unauthenticated', 'send Authorization: Bearer <API key or JWT>'))
    if (required !== 'optional' && principal.kind !== required) return done(new HttpProblem('forbidden', `this route is for ${required} principals`, role ? { requiredRole: role } : {}))
    if (role && !hasRole(principal, role)) {
      return done(new HttpProblem('forbidden', `this operation needs the ${role} role; principal "${principal.id}" has ${roleOf(principal) ?? 'none'}`, { requiredRole: role }))
    }
    const budget = limiter.take(principal.id, principal.rateLimitPerMinute ?? opts.defaultRateLimitPerMinute)
    if (!budget.allowed) return done(new HttpProblem('rate_limited', 'request budget for this caller is used up', {}, budget.retryAfterSeconds))
    request.principal = principal
    reply.header('cache-control', 'no-store')
    done()
  }

  // A route-level hook on the routes that declare config.auth, made when the route is added with
  // that route's settings: public routes pay nothing, and a request reads no route options (each
  // read of request.routeOptions builds an object). Callback style, not async: API keys (the
  // common case) are verified synchronously; only a JWT needs to wait (for the key set).
  app.addHook('onRoute', (route) => {
    const required = route.config?.auth
    if (!required) return
    const role = required === 'admin' ? route.config?.role ?? 'admin' : undefined
    const authenticate: onRequestHookHandler = (request, reply, done) => {
      const token = bearerToken(request)
      // a wrong credential on an optional route is still an error: silently answering the public
      // view would hide a monitor's stale key until someone needs the details
      if (required === 'optional' && token === null && request.headers.authorization === undefined) return done()
      if (token && looksLikeApiKey(token)) return admit(request, reply, done, required, role, verifyApiKey(opts.directory, token))
      if (token && opts.jwtVerifier) {
        opts.jwtVerifier(token, reason => request.log.info({ reason }, 'caller JWT refused')).then(
          principal => admit(request, reply, done, required, role, principal),
          () => admit(request, reply, done, required, role, null))
        return
      }
      admit(request, reply, done, required, role, null)
    }
    // before the route's own onRequest hooks (none today): nothing of the route runs unauthenticated
    route.onRequest = [authenticate, ...[route.onRequest ?? []].flat()]
  })
}

type Required = NonNullable<FastifyContextConfig['auth']>

export default fp(authPlugin, { name: 'sf-broker-auth', fastify: '5.x' })
