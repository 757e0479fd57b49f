'use strict'
// REST example: post a message, delete it, and give a member a role through `client.rest`.
//
// Every call waits for its turn in the rate limits the bot's processes share through Redis.
// Configured from the environment: DISCORD_TOKEN (the bot token), DDISCORD_REST_URL (the
// simulator's HTTP URL; unset for Discord), DDISCORD_MESH_URL, DDISCORD_REDIS_URL.
//
//   node examples/node/rest.js CHANNEL_ID GUILD_ID USER_ID ROLE_ID
//
// Prints the deleted message's id and the member's roles as JSON.
const { connect } = require('ddiscord')

async function main([channelId, guildId, userId, roleId]) {
  const client = await connect()
  try {
    const message = await client.rest.createMessage(channelId, { content: 'this goes away' })
    await client.rest.deleteMessage(channelId, message.id)
    await client.rest.addMemberRole(guildId, userId, roleId)
    const member = await client.rest.getMember(guildId, userId)
    console.log(JSON.stringify({ deleted: message.id, roles: member.roles }))
  } finally {
    await client.close()
  }
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e)
  process.exit(1)
})
