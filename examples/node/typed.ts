// A typed script: type-checked by the tests (`tsc --noEmit` in sdk-node/) against the
// package's index.d.ts. It logs every message created and replies to nothing; run it with
// ts-node or compile it, with DDISCORD_MESH_URL and DDISCORD_REDIS_URL set.
import { connect, DDiscordError, codes, type Event } from 'ddiscord'

interface MessageCreate {
  id: string
  channel_id: string
  guild_id?: string
  content: string
  author: { id: string; username: string }
}

async function main(): Promise<void> {
  const client = await connect({ shards: 1 })
  try {
    const sub = client.subscribe('discord/*/*/MESSAGE_CREATE', { batchSize: 256 })
    for await (const event of sub) {
      const e = event as Event<MessageCreate>
      const shard: number = e.shard
      const guild: string | null = e.guildId
      console.log(`[shard ${shard}] ${guild ?? 'DM'} ${e.data.author.username}: ${e.data.content.length} chars`)
      if (guild !== null) {
        const owner: number = client.shardFor(guild)
        const member = await client.cache.member(guild, e.data.author.id)
        const roles: string[] = member?.roles ?? []
        console.log(`guild ${guild} lives on shard ${owner}; the author has ${roles.length} roles`)
      }
    }
  } catch (err) {
    if (err instanceof DDiscordError && err.code === codes.CONNECTION_LOST) {
      console.error(`lost the mesh: ${err.message}`)
      process.exitCode = 2
      return
    }
    throw err
  } finally {
    await client.close()
  }
}

void main()
