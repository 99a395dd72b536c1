import t from 'tap'
import { allReady, invalidationStillWorks, redisFleet, warmUp } from '../support/failover-load.ts'
import { RedisClusterSet, until } from '../support/redis-topologies.ts'

/**
 * ioredis subscribes a Cluster client through one node. When that node dies, the subscription must
 * move, or a rotation on one replica would leave the others serving the old secret's session.
 */
t.test('Cluster: the node carrying the replicas\' subscriptions dies; invalidation still reaches every replica', async (t) => {
  const set = await RedisClusterSet.start()
  t.teardown(() => set.close())
  const fleet = await redisFleet(t, set.env)
  await warmUp(t, fleet)
  const holders = await set.subscriberNodes()
  t.ok(holders.size > 0, 'the replicas subscribed somewhere')
  // the node carrying the most subscriptions (ioredis picks one node per Cluster client)
  const [port] = [...holders].sort((a, b) => b[1] - a[1])[0]
  const tookMs = await set.killNode(port)
  t.comment(`subscriber node ${port} killed (${holders.get(port)} subscriptions), cluster ok after ${tookMs} ms`)
  await allReady(fleet.apps, fleet.logs)
  await until('every replica subscribed again', async () => [...(await set.subscriberNodes()).values()].reduce((a, b) => a + b, 0) >= fleet.apps.length)
  await invalidationStillWorks(t, fleet)
})
