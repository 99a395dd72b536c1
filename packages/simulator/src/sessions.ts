import { newAccessToken } from './ids.ts'
import { orgNow } from './org-state.ts'
import type { SimOrgState, SimUserState } from './types.ts'

export type SessionFlow = 'soap' | 'oauth_password' | 'jwt_bearer' | 'client_credentials'

export interface SimSession {
  accessToken: string
  orgKey: string
  userId: string
  username: string
  flow: SessionFlow
  issuedAt: number
  /** logged in with an expired password: every API call but SetPassword is refused */
  passwordExpired: boolean
  /** the connected app / External Client App of an OAuth login (its original consumer key); absent for SOAP */
  clientId?: string
}

/** Issued sessions. A session lives until issuedAt + the org's current session timeout, a revoke or expireSessions(). */
export class SessionStore {
  readonly #sessions = new Map<string, SimSession>()

  issue (org: SimOrgState, user: SimUserState, flow: SessionFlow, now = orgNow(org), clientId?: string): SimSession {
    const session: SimSession = {
      accessToken: newAccessToken(org.orgId),
      orgKey: org.key,
      userId: user.userId,
      username: user.username,
      flow,
      issuedAt: now,
      passwordExpired: user.passwordExpired && (flow === 'soap' || flow === 'oauth_password'),
      ...(clientId === undefined ? {} : { clientId }),
    }
    this.#sessions.set(session.accessToken, session)
    return session
  }

  /**
   * SOAP login() hands every client of the same user the same session while it is valid
   * (SOAP API guide, "Choosing a User for an Integration"), so one logout ends it for all.
   */
  reuseSoapSession (org: SimOrgState, user: SimUserState, now = orgNow(org)): SimSession | undefined {
    for (const session of this.#sessions.values()) {
      if (session.orgKey === org.key && session.userId === user.userId && session.flow === 'soap' &&
        session.passwordExpired === user.passwordExpired && this.#alive(session, org, now)) {
        return session
      }
    }
    return undefined
  }

  /** The session behind a token, or undefined when unknown, revoked or timed out. */
  find (token: string, orgs: ReadonlyMap<string, SimOrgState>, now?: number): SimSession | undefined {
    const session = this.#sessions.get(token)
    if (!session) return undefined
    const org = orgs.get(session.orgKey)
    if (!org || !this.#alive(session, org, now ?? orgNow(org))) {
      this.#sessions.delete(token)
      return undefined
    }
    return session
  }

  revoke (token: string): boolean {
    return this.#sessions.delete(token)
  }

  expireOrg (orgKey?: string): void {
    for (const [token, session] of this.#sessions) {
      if (orgKey === undefined || session.orgKey === orgKey) this.#sessions.delete(token)
    }
  }

  #alive (session: SimSession, org: SimOrgState, now: number): boolean {
    return now < session.issuedAt + org.sessionTimeoutSeconds * 1000
  }
}
