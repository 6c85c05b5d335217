/** A binary min-heap of items keyed by numbers, for lazily maintained orders (expiry, tombstone age). */

/**
 * Items ordered by the key given when they were pushed, each node carrying a numeric tag. Keys are not updated in
 * place: a user whose key changes pushes again with a new tag and drops nodes whose tag is stale when they surface
 * (lazy deletion). push and pop cost O(log n).
 */
export class MinHeap<T> {
  private readonly keys: Array<number> = []
  private readonly items: Array<T> = []
  private readonly tags: Array<number> = []
  /** The tag of the node the last `pop` removed. */
  poppedTag = 0

  get size(): number {
    return this.keys.length
  }

  /** The smallest key, or `Infinity` when empty. */
  peekKey(): number {
    return this.keys.length === 0 ? Infinity : this.keys[0]!
  }

  push(key: number, item: T, tag = 0): void {
    const keys = this.keys
    const items = this.items
    const tags = this.tags
    let i = keys.length
    keys.push(key)
    items.push(item)
    tags.push(tag)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (keys[parent]! <= key) break
      keys[i] = keys[parent]!
      items[i] = items[parent]!
      tags[i] = tags[parent]!
      i = parent
    }
    keys[i] = key
    items[i] = item
    tags[i] = tag
  }

  /** Removes and returns the item with the smallest key; the heap must not be empty. */
  pop(): T {
    const keys = this.keys
    const items = this.items
    const tags = this.tags
    const top = items[0]!
    this.poppedTag = tags[0]!
    const lastKey = keys.pop()!
    const lastItem = items.pop()!
    const lastTag = tags.pop()!
    const n = keys.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const left = 2 * i + 1
        if (left >= n) break
        const right = left + 1
        const child = right < n && keys[right]! < keys[left]! ? right : left
        if (keys[child]! >= lastKey) break
        keys[i] = keys[child]!
        items[i] = items[child]!
        tags[i] = tags[child]!
        i = child
      }
      keys[i] = lastKey
      items[i] = lastItem
      tags[i] = lastTag
    }
    return top
  }
}
