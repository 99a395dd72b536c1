import type { BenchCaller } from './fixtures.ts'
import type { BenchRedis } from './redis.ts'
import type { BenchSimulator } from './simulator.ts'

/** What every scenario runs against: one Redis, one simulator process, one caller key. */
export interface BenchContext {
  repoRoot: string
  /** temp folder for store files and child logs */
  workDir: string
  redis: BenchRedis
  sim: BenchSimulator
  caller: BenchCaller
  /** base64 key brokers seal their Redis-cached sessions with (shared by the replicas of a scenario) */
  sessionKey: string
  log (line: string): void
}

/** One line of the final table. */
export interface Row {
  scenario: string
  metric: string
  value: string
  target?: string
  /** undefined: informational; null: could not be measured */
  pass?: boolean | null
}

export interface ScenarioOutcome {
  rows: Row[]
  /** every number, for bench/results/*.json */
  data: Record<string, unknown>
}
