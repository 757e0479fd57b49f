'use strict'
// Moderation script: on every MESSAGE_CREATE, reads the author's roles from the cache and
// counts messages per role.
//
//   DDISCORD_MESH_URL=mqtt://127.0.0.1:1883 DDISCORD_REDIS_URL=redis://127.0.0.1:6379 \
//     node examples/node/moderation.js
//
// Prints the counts as JSON every REPORT_EVERY messages (default 100) and on exit (SIGINT,
// SIGTERM, or after MAX_MESSAGES messages when set). Role names are read from the cache once
// per guild and refreshed when an unknown role id shows up.
const { connect } = require('ddiscord')

async function main() {
  const max = Number(process.env.MAX_MESSAGES || Infinity)
  const reportEvery = Number(process.env.REPORT_EVERY || 100)
  const client = await connect()
  const counts = new Map() // "guild/role name" -> messages
  const roleNames = new Map() // guild id -> Map(role id -> name)
  let seen = 0

  async function nameOf(guildId, roleId) {
    let names = roleNames.get(guildId)
    if (!names || !names.has(roleId)) {
      names = new Map((await client.cache.roles(guildId)).map((r) => [r.id, r.name]))
      roleNames.set(guildId, names)
    }
    return names.get(roleId) ?? `unknown role ${roleId}`
  }

  const report = () => console.log(JSON.stringify({ messages: seen, perRole: Object.fromEntries([...counts].sort()) }))
  const sub = client.subscribe('discord/*/*/MESSAGE_CREATE')
  const stop = () => sub.close()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  await sub.ready
  console.log('ready')

  for await (const event of sub) {
    const guildId = event.guildId
    const author = event.data.author
    if (guildId === null || !author || author.bot) continue
    const member = await client.cache.member(guildId, author.id)
    const roles = member ? member.roles : []
    // @everyone (the role whose id is the guild id) is every member's role.
    for (const roleId of [guildId, ...roles]) {
      const key = `${guildId}/${await nameOf(guildId, roleId)}`
      counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    seen++
    if (seen % reportEvery === 0) report()
    if (seen >= max) break
  }
  report()
  await client.close()
}

main().catch((err) => {
  console.error(`moderation: ${err.code ?? 'error'}: ${err.message}`)
  process.exit(1)
})
