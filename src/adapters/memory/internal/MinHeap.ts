/** A binary min-heap of items keyed by numbers, for lazily maintained orders (expiry, tombstone age). */

/**
 * Items ordered by the key given when they were pushed. Keys are not updated in place: a user whose key changes
 * pushes again, or re-keys a node when it surfaces, and drops nodes that no longer stand for anything (lazy
 * deletion). push and pop cost O(log n); a node costs its key and its item, in two arrays.
 */
export class MinHeap<T> {
  private readonly keys: Array<number> = []
  private readonly items: Array<T> = []

  get size(): number {
    return this.keys.length
  }

  /** The smallest key, or `Infinity` when empty. */
  peekKey(): number {
    return this.keys.length === 0 ? Infinity : this.keys[0]!
  }

  push(key: number, item: T): void {
    const keys = this.keys
    const items = this.items
    let i = keys.length
    keys.push(key)
    items.push(item)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (keys[parent]! <= key) break
      keys[i] = keys[parent]!
      items[i] = items[parent]!
      i = parent
    }
    keys[i] = key
    items[i] = item
  }

  /** Removes and returns the item with the smallest key; the heap must not be empty. */
  pop(): T {
    const keys = this.keys
    const items = this.items
    const top = items[0]!
    const lastKey = keys.pop()!
    const lastItem = items.pop()!
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
        i = child
      }
      keys[i] = lastKey
      items[i] = lastItem
    }
    return top
  }
}
