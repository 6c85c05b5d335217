/** An intrusive doubly linked list ordering nodes from least to most recently used, O(1) per move. */

/** A node that can sit in one `Recency` list. */
export interface RecencyNode {
  older: RecencyNode | null
  newer: RecencyNode | null
  linked: boolean
}

/** Nodes from least recently used (`oldest`) to most recently used; each node appears at most once. */
export class Recency<N extends RecencyNode> {
  private head: N | null = null
  private tail: N | null = null

  /** The least recently used node, if any. */
  get oldest(): N | null {
    return this.head
  }

  /** The node used just after `node`, if any. */
  newerThan(node: N): N | null {
    return node.newer as N | null
  }

  /** Makes `node` the most recently used, linking it if it was not in the list. */
  use(node: N): void {
    if (node.linked) {
      if (this.tail === node) return
      this.unlink(node)
    }
    node.older = this.tail
    node.newer = null
    if (this.tail === null) this.head = node
    else this.tail.newer = node
    this.tail = node
    node.linked = true
  }

  /** Puts `node` in the place of `old`, which leaves the list; `node` is not linked unless `old` was. */
  replace(old: N, node: N): void {
    if (!old.linked) return
    node.older = old.older
    node.newer = old.newer
    if (old.older === null) this.head = node
    else old.older.newer = node
    if (old.newer === null) this.tail = node
    else old.newer.older = node
    node.linked = true
    old.older = null
    old.newer = null
    old.linked = false
  }

  /** Takes `node` out of the list; a no-op if it is not in it. */
  remove(node: N): void {
    if (node.linked) this.unlink(node)
  }

  private unlink(node: N): void {
    if (node.older === null) this.head = node.newer as N | null
    else node.older.newer = node.newer
    if (node.newer === null) this.tail = node.older as N | null
    else node.newer.older = node.older
    node.older = null
    node.newer = null
    node.linked = false
  }
}
