'use strict'
// The package's JS entry: a thin layer over the native addon (native.js, built from src/).
// It turns native batches into `for await` iterators (one N-API crossing per batch, not per
// event), makes native errors (which carry their `code`) `DDiscordError`s, and accepts bigint
// snowflakes.
const native = require('./native.js')

/**
 * Stable error codes (`err.code`), from the core's list of error kinds (`errorKinds()` of the
 * native addon): `codes.INVALID_PATTERN === 'DDISCORD_INVALID_PATTERN'`; see README.md.
 */
const errorKinds = Object.freeze(native.errorKinds().map((k) => Object.freeze(k)))
const codes = Object.freeze(Object.fromEntries(errorKinds.map((k) => [k.code, k.nodeCode])))
const knownCodes = new Set(Object.values(codes))

/** Every error this package throws: `err.code` is one of `codes`. */
class DDiscordError extends Error {
  constructor(code, message, options) {
    super(message, options)
    this.name = 'DDiscordError'
    this.code = code
  }
}

// N-API's own argument conversion errors (a number where a string was expected, ...).
const ARGUMENT_STATUSES = new Set(['InvalidArg', 'NumberExpected', 'StringExpected', 'ObjectExpected', 'BooleanExpected', 'ArrayExpected'])

// The native side throws errors whose `code` is already a DDiscord code: they only become
// `DDiscordError`s here. N-API argument conversion errors are argument errors.
function translate(err) {
  if (err instanceof DDiscordError) return err
  if (err instanceof Error && knownCodes.has(err.code)) {
    Object.setPrototypeOf(err, DDiscordError.prototype)
    err.name = 'DDiscordError'
    return err
  }
  const message = err && typeof err.message === 'string' ? err.message : String(err)
  if (err && (ARGUMENT_STATUSES.has(err.code) || err instanceof TypeError)) {
    return new DDiscordError(codes.INVALID_ARGUMENT, message, { cause: err })
  }
  return new DDiscordError(codes.INTERNAL, message, { cause: err })
}

async function call(promiseFn) {
  try {
    return await promiseFn()
  } catch (e) {
    throw translate(e)
  }
}

function callSync(fn) {
  try {
    return fn()
  } catch (e) {
    throw translate(e)
  }
}

// A snowflake given as a decimal string, a bigint or a safe-integer number, as the decimal
// string the native side parses (with the core's rule: a non-zero u64); throws INVALID_ID at once.
function snowflake(what, value) {
  let text
  if (typeof value === 'string') text = value
  else if (typeof value === 'bigint') text = value.toString()
  else if (typeof value === 'number' && Number.isSafeInteger(value)) text = String(value)
  else {
    const shown = typeof value === 'number' ? String(value) : typeof value
    throw new DDiscordError(
      codes.INVALID_ID,
      `${what} ${shown} is not a snowflake: Discord ids are non-zero unsigned 64-bit integers; pass a decimal string such as "81384788765712384" or a bigint` +
        (typeof value === 'number' ? ': numbers above 2^53 lose digits' : '')
    )
  }
  return callSync(() => native.parseSnowflake(what, text))
}

function checkObject(what, value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new DDiscordError(codes.INVALID_ARGUMENT, `${what} must be an object, got ${value === null ? 'null' : typeof value}`)
  }
  return value
}

function checkString(what, value) {
  if (typeof value !== 'string') {
    throw new DDiscordError(codes.INVALID_ARGUMENT, `${what} must be a string, got ${typeof value}`)
  }
  return value
}

// A batch as the native side delivers it (src/batch.rs): distinct `topics`, `topicOf` and
// `ends` (Uint32Array, per event) and the envelopes back to back in `data`. `prepare` adds the
// event count and a cache of each distinct topic's levels, split once for all of the batch's
// events on that topic.
function prepare(batch) {
  if (batch !== null) {
    batch.count = batch.ends.length
    batch.levels = new Array(batch.topics.length)
  }
  return batch
}

/**
 * One event: a Discord dispatch as the shard received it, with the topic it came on.
 * The envelope is sliced from its batch and parsed only when read.
 */
class Event {
  #batch
  #i
  #envelope

  constructor(batch, i) {
    /** The topic, `<root>/{shard}/{guild}/{EVENT}`. */
    this.topic = batch.topics[batch.topicOf[i]]
    this.#batch = batch
    this.#i = i
  }

  #level(n) {
    const b = this.#batch
    const t = b.topicOf[this.#i]
    let levels = b.levels[t]
    if (levels === undefined) levels = b.levels[t] = b.topics[t].split('/')
    return levels[n]
  }

  /** The shard that received it. */
  get shard() {
    return Number(this.#level(1))
  }

  /** The guild id (snowflake string), or `null` for events without a guild. */
  get guildId() {
    const g = this.#level(2)
    return g === '-' ? null : g
  }

  /** The dispatch name (`t`), e.g. `MESSAGE_CREATE`. */
  get name() {
    return this.#level(3)
  }

  /** The envelope's bytes (a view into the batch, not a copy). */
  get raw() {
    const b = this.#batch
    const i = this.#i
    return b.data.subarray(i === 0 ? 0 : b.ends[i - 1], b.ends[i])
  }

  /** The envelope as JSON text. */
  text() {
    const b = this.#batch
    const i = this.#i
    return b.data.toString('utf8', i === 0 ? 0 : b.ends[i - 1], b.ends[i])
  }

  /** The parsed envelope: `{shard, session, received_ms, op, t, s, d}`. */
  get envelope() {
    if (this.#envelope === undefined) this.#envelope = JSON.parse(this.text())
    return this.#envelope
  }

  /** The dispatch payload `d`, parsed. */
  get data() {
    return this.envelope.d
  }

  /** The sequence number `s` within the gateway session. */
  get sequence() {
    return this.envelope.s ?? null
  }

  /** The gateway session id the event belongs to. */
  get session() {
    return this.envelope.session ?? null
  }

  /** When ingest read the frame, Unix time in ms. */
  get receivedMs() {
    return this.envelope.received_ms ?? null
  }

  toJSON() {
    return { topic: this.topic, shard: this.shard, guildId: this.guildId, name: this.name, sequence: this.sequence, data: this.data }
  }
}

/** A work-queue job: an event to acknowledge once its work is done. */
class Job extends Event {
  #queue
  #id
  #settled = false

  constructor(batch, i, queue) {
    super(batch, i)
    this.#queue = queue
    this.#id = batch.deliveryIds[i]
    /** The broker delivered it before without an ack (an earlier owner crashed mid-work). */
    this.redelivered = batch.redelivered[i]
    /** Deliveries of this job to this replica so far (1 on the first; nacks add one). */
    this.deliveries = batch.deliveries[i]
  }

  /** The partition (shard) it belongs to. */
  get partition() {
    return this.shard
  }

  /** The job's event (the job itself: a `Job` is an `Event`), as in the Rust and Python SDKs. */
  get event() {
    return this
  }

  /** Acknowledges the job after its work is done: the broker forgets it. Idempotent. */
  async ack() {
    if (this.#settled) return
    this.#settled = true
    await call(() => this.#queue.ack(this.#id))
  }

  /**
   * Gives the job back: it is delivered again after the queue's retry delay, and goes to the
   * dead-letter topic `<root>-dead/<group>/<shard>` after `maxDeliveries`. Idempotent.
   */
  nack() {
    if (this.#settled) return
    this.#settled = true
    callSync(() => this.#queue.nack(this.#id))
  }
}

/**
 * One replica's membership of a work queue: iterate it with `for await` and `ack()` each job
 * after its work is done. Leaving the loop or `close()` leaves the queue (the other replicas
 * take its shards over at once; unacknowledged jobs stay with the broker for them).
 */
class WorkQueue {
  #client
  #native = null
  #ready
  #batchSize
  #closed = false

  constructor(client, group, pattern, opening, batchSize) {
    this.#client = client
    /** The queue (consumer group) name. */
    this.group = group
    /** The pattern as given. */
    this.pattern = pattern
    this.#batchSize = batchSize
    this.#ready = opening.then(
      async (n) => {
        this.#native = n
        if (this.#closed) await n.close().catch(() => {})
        return this
      },
      (e) => {
        throw translate(e)
      }
    )
    this.#ready.catch(() => {})
  }

  /** Resolves once the replica has joined the queue. */
  get ready() {
    return this.#ready
  }

  /** The shards this replica holds now. */
  async partitions() {
    await this.#ready
    return call(() => this.#native.partitions())
  }

  [Symbol.asyncIterator]() {
    return new BatchIterator(
      async () => {
        await this.#ready
        return prepare(await this.#native.nextBatch(this.#batchSize))
      },
      (b, i) => new Job(b, i, this.#native),
      () => {
        this.close().catch(() => {})
      }
    )
  }

  /** Leaves the queue. Idempotent. */
  async close() {
    this.#closed = true
    if (this.#native) await call(() => this.#native.close())
  }

  async [Symbol.asyncDispose]() {
    await this.close()
  }
}

// An async iterator over native batches. `next()` resolves at once while the current batch
// lasts, and asks the native side for the next batch once it is used up.
class BatchIterator {
  #source
  #make
  #batch = null
  #i = 0
  #filling = null
  #done = false
  #onEnd

  constructor(source, make, onEnd) {
    this.#source = source
    this.#make = make
    this.#onEnd = onEnd
  }

  #take() {
    const b = this.#batch
    const i = this.#i++
    if (this.#i >= b.count) this.#batch = null
    return { value: this.#make(b, i), done: false }
  }

  #fill() {
    // An error (e.g. DDISCORD_CONNECTION_LOST) ends this loop but not the subscription:
    // iterating it again continues once the client has reconnected.
    const filling = this.#source().then(
      (batch) => {
        this.#filling = null
        if (batch === null) {
          this.#finish()
          return { value: undefined, done: true }
        }
        this.#batch = batch
        this.#i = 0
        return this.#take()
      },
      (e) => {
        this.#filling = null
        throw translate(e)
      }
    )
    this.#filling = filling
    return filling
  }

  #finish() {
    if (!this.#done) {
      this.#done = true
      this.#onEnd()
    }
  }

  next() {
    if (this.#batch !== null) return Promise.resolve(this.#take())
    if (this.#done) return Promise.resolve({ value: undefined, done: true })
    // A call while a batch is on its way waits for it.
    if (this.#filling !== null) {
      const again = () => this.next()
      return this.#filling.then(again, again)
    }
    return this.#fill()
  }

  return() {
    this.#batch = null
    this.#finish()
    return Promise.resolve({ value: undefined, done: true })
  }

  [Symbol.asyncIterator]() {
    return this
  }
}

// The batches of one native subscription: the native side delivers each batch asked for with
// `request` to the one callback registered with `start` (src/subscription.rs), so a crossing
// costs no promise or threadsafe function of its own. The callback holds only `sink`, not the
// native subscription: a subscription nobody references can still be garbage-collected.
class BatchFeed {
  #native
  #max
  #sink = { waiting: null }
  #started = false

  constructor(native, max) {
    this.#native = native
    this.#max = max
  }

  /** The next batch (`null` once the subscription ended); one is asked for at a time. */
  pull() {
    const sink = this.#sink
    if (sink.waiting !== null) return sink.waiting.promise
    try {
      if (!this.#started) {
        this.#native.start((delivery) => deliver(sink, delivery))
        this.#started = true
      }
      const w = { promise: null, resolve: null, reject: null }
      w.promise = new Promise((resolve, reject) => {
        w.resolve = resolve
        w.reject = reject
      })
      sink.waiting = w
      this.#native.request(this.#max)
      return w.promise
    } catch (e) {
      sink.waiting = null
      return Promise.reject(translate(e))
    }
  }
}

function deliver(sink, [batch, code, message]) {
  const w = sink.waiting
  if (w === null) return
  sink.waiting = null
  if (code !== null) w.reject(new DDiscordError(code, message))
  else w.resolve(prepare(batch))
}

/**
 * A subscription: iterate it with `for await`. Leaving the loop (break, return, throw) or
 * calling `close()` ends it.
 */
class Subscription {
  #client
  #native = null
  #feed = null
  #ready
  #closed = false

  constructor(client, pattern, opening, batchSize) {
    this.#client = client // keeps the client (and its connection) alive while iterating
    /** The pattern as given. */
    this.pattern = pattern
    this.#ready = opening.then(
      (n) => {
        this.#native = n
        this.#feed = new BatchFeed(n, batchSize)
        if (this.#closed) n.close()
        return this
      },
      (e) => {
        throw translate(e)
      }
    )
    // Errors surface where the script awaits `ready` or iterates, never as an unhandled rejection.
    this.#ready.catch(() => {})
  }

  /** Resolves once the broker has the subscription (events published after it are delivered). */
  get ready() {
    return this.#ready
  }

  #pull() {
    if (this.#feed !== null) return this.#feed.pull()
    return this.#ready.then(() => this.#feed.pull())
  }

  /** Waits for the next events already buffered (at least one); `null` once closed. */
  async nextBatch() {
    const b = await this.#pull()
    if (b === null) return null
    const out = new Array(b.count)
    for (let i = 0; i < b.count; i++) out[i] = new Event(b, i)
    return out
  }

  [Symbol.asyncIterator]() {
    return new BatchIterator(
      () => this.#pull(),
      (b, i) => new Event(b, i),
      () => this.close()
    )
  }

  /** Ends the subscription; a pending iteration finishes. Idempotent. */
  close() {
    this.#closed = true
    if (this.#native) this.#native.close()
  }

  async [Symbol.asyncDispose]() {
    this.close()
  }
}

// Cache reads in flight, by read id, across every client: the native side answers each through
// one completion callback per client (src/cache.rs), which holds this function and nothing of
// the client, so a client left unclosed can still be garbage-collected.
const pendingReads = new Map()
let nextReadId = 1

function completeRead([id, json, code, message]) {
  const read = pendingReads.get(id)
  if (read === undefined) return
  pendingReads.delete(id)
  if (code !== null) {
    read.reject(new DDiscordError(code, message))
    return
  }
  try {
    read.resolve(JSON.parse(json))
  } catch (e) {
    read.reject(translate(e))
  }
}

/**
 * Reads of the Redis cache the state worker writes (key layout: docs/cache.md). Every read is
 * one round trip and returns plain objects in Discord's JSON shape (snowflakes as strings), or
 * `null` when the entity is not cached. Each method names one read of the native `cacheQueryStart`.
 */
class Cache {
  #n

  constructor(nativeClient) {
    this.#n = nativeClient
    nativeClient.setCacheCompletions(completeRead)
  }

  #read(read, ids, limit) {
    return new Promise((resolve, reject) => {
      const id = nextReadId
      nextReadId = nextReadId >= 0xffffffff ? 1 : nextReadId + 1
      try {
        this.#n.cacheQueryStart(id, read, ids, limit)
      } catch (e) {
        reject(translate(e))
        return
      }
      pendingReads.set(id, { resolve, reject })
    })
  }

  /** A guild without its collections (read those with the other methods). */
  async guild(guildId) {
    return this.#read('guild', [snowflake('guild_id', guildId)])
  }

  /** A guild with its `roles`, `channels` (threads included) and `emojis` arrays, in one round trip. */
  async guildWithCollections(guildId) {
    return this.#read('guild_with_collections', [snowflake('guild_id', guildId)])
  }

  /** A guild's cache marker and counters: `{shard, generation, complete, membersChunked, memberCount, unavailable}`. */
  async guildState(guildId) {
    const s = await this.#read('guild_state', [snowflake('guild_id', guildId)])
    if (s === null) return null
    return {
      shard: s.shard ?? undefined,
      generation: s.generation,
      complete: s.complete,
      membersChunked: s.members_chunked,
      memberCount: s.member_count ?? undefined,
      unavailable: s.unavailable,
    }
  }

  /** A channel or thread. */
  async channel(channelId) {
    return this.#read('channel', [snowflake('channel_id', channelId)])
  }

  /** Every channel of a guild. */
  async channels(guildId) {
    return this.#read('channels', [snowflake('guild_id', guildId)])
  }

  /** A role of a guild. */
  async role(guildId, roleId) {
    return this.#read('role', [snowflake('guild_id', guildId), snowflake('role_id', roleId)])
  }

  /** Every role of a guild. */
  async roles(guildId) {
    return this.#read('roles', [snowflake('guild_id', guildId)])
  }

  /** A member of a guild, with its `user`. */
  async member(guildId, userId) {
    return this.#read('member', [snowflake('guild_id', guildId), snowflake('user_id', userId)])
  }

  /** Members by user id in one round trip, in the order asked (`null` where not cached). */
  async members(guildId, userIds) {
    const g = snowflake('guild_id', guildId)
    if (!Array.isArray(userIds)) throw new DDiscordError(codes.INVALID_ARGUMENT, 'userIds must be an array of snowflakes')
    return this.#read('members', [g, ...userIds.map((u) => snowflake('user_id', u))])
  }

  /** The user ids of every cached member of a guild. */
  async memberIds(guildId) {
    return this.#read('member_ids', [snowflake('guild_id', guildId)])
  }

  /** A user. */
  async user(userId) {
    return this.#read('user', [snowflake('user_id', userId)])
  }

  /** The bot's own user (from READY). */
  async currentUser() {
    return this.#read('current_user', [])
  }

  /** A member's presence. */
  async presence(guildId, userId) {
    return this.#read('presence', [snowflake('guild_id', guildId), snowflake('user_id', userId)])
  }

  /** A member's voice state. */
  async voiceState(guildId, userId) {
    return this.#read('voice_state', [snowflake('guild_id', guildId), snowflake('user_id', userId)])
  }

  /** Every voice state of a guild. */
  async voiceStates(guildId) {
    return this.#read('voice_states', [snowflake('guild_id', guildId)])
  }

  /** Up to `limit` (default 50) cached messages of a channel, newest first. */
  async recentMessages(channelId, limit = 50) {
    const c = snowflake('channel_id', channelId)
    if (!Number.isInteger(limit) || limit < 0) throw new DDiscordError(codes.INVALID_ARGUMENT, `limit must be a non-negative integer, got ${limit}`)
    return this.#read('recent_messages', [c], limit)
  }
}

/**
 * Discord's HTTP API with the rate limits shared by every process of the bot through Redis
 * (docs/rest.md): each call waits for its turn, then resolves to Discord's JSON as a plain
 * object (`null` for `204 No Content`). Rejects with `DDISCORD_DISCORD` when Discord answers
 * with an error (status and Discord's code in the message) and `DDISCORD_RATE_LIMITED` when the
 * turn would come after the deadline. Needs `DISCORD_TOKEN` (and `DDISCORD_REST_URL` for the
 * simulator). Each method names one call of the native `restCall`.
 */
class Rest {
  #n

  constructor(nativeClient) {
    this.#n = nativeClient
  }

  async #call(name, ids, body, token) {
    const text = await call(() =>
      this.#n.restCall(
        name,
        ids.map(([what, v]) => snowflake(what, v)),
        body === undefined ? null : JSON.stringify(body),
        token ?? null,
      ),
    )
    return text ? JSON.parse(text) : null
  }

  /** Create Message in `channelId` with `body` (`{ content: 'hi' }`, embeds, ...). */
  createMessage(channelId, body) {
    checkObject('the message body', body)
    return this.#call('create_message', [['channel_id', channelId]], body)
  }

  /** Get Channel Message. */
  getMessage(channelId, messageId) {
    return this.#call('get_message', [['channel_id', channelId], ['message_id', messageId]])
  }

  /** Edit Message with `body`. */
  editMessage(channelId, messageId, body) {
    checkObject('the message body', body)
    return this.#call('edit_message', [['channel_id', channelId], ['message_id', messageId]], body)
  }

  /** Delete Message. */
  async deleteMessage(channelId, messageId) {
    await this.#call('delete_message', [['channel_id', channelId], ['message_id', messageId]])
  }

  /** Bulk Delete Messages: 2 to 100 messages. */
  async deleteMessages(channelId, messageIds) {
    const messages = [...messageIds].map((m) => snowflake('message_id', m))
    await this.#call('delete_messages', [['channel_id', channelId]], { messages })
  }

  /** Add Guild Member Role. */
  async addMemberRole(guildId, userId, roleId) {
    await this.#call('add_member_role', [['guild_id', guildId], ['user_id', userId], ['role_id', roleId]])
  }

  /** Remove Guild Member Role. */
  async removeMemberRole(guildId, userId, roleId) {
    await this.#call('remove_member_role', [['guild_id', guildId], ['user_id', userId], ['role_id', roleId]])
  }

  /** Modify Guild Member: `nick`, `roles`, `mute`, `deaf`, `communication_disabled_until` (a timeout). */
  modifyMember(guildId, userId, body) {
    checkObject('the member body', body)
    return this.#call('modify_member', [['guild_id', guildId], ['user_id', userId]], body)
  }

  /** Remove Guild Member (a kick). */
  async kickMember(guildId, userId) {
    await this.#call('kick_member', [['guild_id', guildId], ['user_id', userId]])
  }

  /** Create Guild Ban (`{ delete_message_seconds }`). */
  async banMember(guildId, userId, body = {}) {
    checkObject('the ban body', body)
    await this.#call('ban_member', [['guild_id', guildId], ['user_id', userId]], body)
  }

  /** Create Interaction Response (`{ type: 4, data: {...} }`). */
  async createInteractionResponse(interactionId, token, body) {
    checkString('token', token)
    checkObject('the response body', body)
    await this.#call('create_interaction_response', [['interaction_id', interactionId]], body, token)
  }

  /** Create Followup Message of an interaction. */
  createFollowup(applicationId, token, body) {
    checkString('token', token)
    checkObject('the message body', body)
    return this.#call('create_followup', [['application_id', applicationId]], body, token)
  }

  /** Get Guild. */
  getGuild(guildId) {
    return this.#call('get_guild', [['guild_id', guildId]])
  }

  /** Get Guild Channels. */
  getGuildChannels(guildId) {
    return this.#call('get_guild_channels', [['guild_id', guildId]])
  }

  /** Get Guild Member. */
  getMember(guildId, userId) {
    return this.#call('get_member', [['guild_id', guildId], ['user_id', userId]])
  }

  /** Get Channel. */
  getChannel(channelId) {
    return this.#call('get_channel', [['channel_id', channelId]])
  }
}

/** A connection to the event mesh and the cache. Create it with `connect()`. */
class Client {
  #native

  constructor(nativeClient) {
    this.#native = nativeClient
    /** Cache reads (Redis, connected on first use). */
    this.cache = new Cache(nativeClient)
    /** Discord's HTTP API with shared rate limits (`DISCORD_TOKEN`, `DDISCORD_REST_URL`). */
    this.rest = new Rest(nativeClient)
  }

  /** The topic root (`DDISCORD_TOPIC_ROOT`, default `discord`). */
  get topicRoot() {
    return this.#native.topicRoot
  }

  /** The shard count used to route gateway commands. */
  get shards() {
    return this.#native.shards
  }

  /** Whether `close()` was called. */
  get closed() {
    return this.#native.closed
  }

  /**
   * Every event matching `pattern` (Solace syntax: `*` is one level or a prefix within a
   * level, `>` one or more trailing levels), e.g. `discord/*\/*\/MESSAGE_CREATE`.
   * Throws `DDISCORD_INVALID_PATTERN` at once for a bad pattern.
   */
  subscribe(pattern, options = {}) {
    checkString('pattern', pattern)
    callSync(() => this.#native.checkPattern(pattern, false))
    return new Subscription(this, pattern, this.#native.subscribe(pattern), options.batchSize ?? 1024)
  }

  /**
   * Like `subscribe`, on `<root>-state/…`: events published after the state worker applied
   * them, so a cache read in the loop sees their effect. The pattern may name either tree.
   */
  subscribeState(pattern, options = {}) {
    checkString('pattern', pattern)
    callSync(() => this.#native.checkPattern(pattern, true))
    return new Subscription(this, pattern, this.#native.subscribeState(pattern), options.batchSize ?? 1024)
  }

  /**
   * Joins the work queue `group` for dispatches matching `pattern` (its shard level must be
   * `*` or `>`): replicas with the same group share the events, each shard to one replica at a
   * time, in order, at least once. Options: `maxDeliveries` (5), `retryDelayMs` (1 000),
   * `leaseTtlMs` (10 000), `batchSize` (1024).
   */
  consume(group, pattern, options = {}) {
    checkString('group', group)
    checkString('pattern', pattern)
    callSync(() => this.#native.checkPattern(pattern, false))
    const native = { maxDeliveries: options.maxDeliveries, retryDelayMs: options.retryDelayMs, leaseTtlMs: options.leaseTtlMs }
    return new WorkQueue(this, group, pattern, this.#native.consume(group, pattern, native), options.batchSize ?? 1024)
  }

  /** The cache key prefix (`DDISCORD_KEY_PREFIX`, default `dd:`). */
  get keyPrefix() {
    return this.#native.keyPrefix
  }

  /** The shard that owns a guild: `(guild_id >> 22) % shards`. */
  shardFor(guildId) {
    return callSync(() => this.#native.shardFor(snowflake('guild_id', guildId)))
  }

  /**
   * Sends a gateway command's `d` object to a shard (guaranteed delivery: resolves once the
   * broker has it). Prefer the helpers below.
   */
  async sendCommand(shard, command, body) {
    if (!Number.isInteger(shard) || shard < 0) {
      throw new DDiscordError(codes.INVALID_ARGUMENT, `shard must be a non-negative integer, got ${shard}`)
    }
    checkString('command', command)
    checkObject('the command body', body)
    return call(() => this.#native.sendCommand(shard, command, JSON.stringify(body)))
  }

  /** Joins, moves or leaves (`channelId` null) a voice channel (opcode 4, to the guild's shard). */
  async updateVoiceState(guildId, channelId, options = {}) {
    const guild = snowflake('guild_id', guildId)
    const channel = channelId === null || channelId === undefined ? null : snowflake('channel_id', channelId)
    return call(() => this.#native.updateVoiceState(guild, channel, !!options.selfMute, !!options.selfDeaf))
  }

  /** Sets the bot's presence on every shard (opcode 3). */
  async updatePresence(options = {}) {
    checkObject('the presence', options)
    const body = {
      status: options.status ?? 'online',
      activities: [...(options.activities ?? [])],
      afk: !!options.afk,
      since: options.since ?? null,
    }
    return call(() => this.#native.updatePresence(JSON.stringify(body)))
  }

  /**
   * Answers an interaction that Discord delivered over HTTP (`ddiscord interactions`):
   * `interactionId` is `event.data.id` of the INTERACTION_CREATE, `response` an interaction
   * response object such as `{type: 4, data: {content: 'pong'}}`. The endpoint answers Discord
   * with it when it arrives before the endpoint's deadline (2.5 s by default). Resolves once
   * the broker has it.
   */
  async replyInteraction(interactionId, response) {
    const id = snowflake('interaction_id', interactionId)
    checkObject('the interaction response', response)
    return call(() => this.#native.replyInteraction(id, JSON.stringify(response)))
  }

  /**
   * Sends REQUEST_GUILD_MEMBERS (opcode 8) to the guild's shard and iterates over the
   * GUILD_MEMBERS_CHUNK events that answer it (matched by nonce); ends after the last chunk.
   * Without `query` and `userIds` every member is requested. Iterating throws
   * `DDISCORD_RATE_LIMITED` when Discord refuses the request with RATE_LIMITED (every member of
   * a guild: once per guild per 30 s), `DDISCORD_TIMEOUT` when a chunk does not come in time
   * (`chunkTimeoutMs`).
   */
  requestGuildMembers(guildId, options = {}) {
    const guild = snowflake('guild_id', guildId)
    const native = {
      query: options.query,
      limit: options.limit,
      presences: options.presences,
      userIds: options.userIds ? [...options.userIds].map((u) => snowflake('user_id', u)) : undefined,
      nonce: options.nonce,
    }
    return new Subscription(this, `GUILD_MEMBERS_CHUNK of ${guild}`, this.#native.requestGuildMembers(guild, native), 1024)
  }

  /** Ends every subscription and work queue of this client and disconnects. Idempotent. */
  async close() {
    return call(() => this.#native.close())
  }

  async [Symbol.asyncDispose]() {
    await this.close()
  }
}

/**
 * Connects to the event mesh (`options.meshUrl` or `DDISCORD_MESH_URL`) and the cache
 * (`options.redisUrl` or `DDISCORD_REDIS_URL`).
 */
async function connect(options = {}) {
  if (options === null || typeof options !== 'object') {
    throw new DDiscordError(codes.INVALID_ARGUMENT, 'connect() takes an options object')
  }
  const n = await call(() => native.connect(options))
  return new Client(n)
}

module.exports = {
  connect,
  Client,
  Cache,
  Rest,
  Subscription,
  WorkQueue,
  /** The former name of `WorkQueue`. */
  Event,
  Job,   DDiscordError,
  codes,
  errorKinds,
  nativeVersion: native.nativeVersion,
}
