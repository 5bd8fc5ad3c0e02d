package store

import (
	"modernc.org/libc"
	"modernc.org/libc/sys/types"
)

// The pure-Go SQLite allocates from modernc.org/memory, which maps a 64 KiB page per size class
// and unmaps it the moment its last block is freed. Statement journals, page images and bound
// values are allocated and freed by every statement, so each statement mapped and unmapped
// pages: a third of an import's CPU time went to mmap/munmap. Keeping pages of each shared size
// class mapped for the life of the process (one block held on each) keeps that churn inside
// them. Two pages per class took importing sales rows from 29,800 to 43,600 rows/s. The classes
// of page-sized blocks (4, 8 and 16 KiB: a page and its header, a record holding a webhook body)
// hold only 16, 8 or 4 blocks a page and churn through two pages at once under concurrent
// webhooks, so they keep 32 each: BenchmarkStripeWebhook went from 2,600–3,600 to 4,300–5,100
// events/s. That is 3 × 32 + 8 × 2 pages of 64 KiB of address space; `serve --demo` is resident
// in 31 MiB with them against 29 MiB with two pages a class (32 pages for every class: 48 MiB).
func init() {
	const pageMask = 1<<16 - 1 // modernc.org/memory's page size is 64 KiB
	tls := libc.NewTLS()
	defer tls.Close()
	for class := 16; class <= 16<<10; class <<= 1 { // 16 KiB is its largest shared class
		pages := 2
		if class >= 4<<10 {
			pages = 32
		}
		kept := map[uintptr]bool{}
		var spare []uintptr
		for len(kept) < pages {
			p := libc.Xmalloc(tls, types.Size_t(class))
			if p == 0 {
				break
			}
			if page := p &^ pageMask; !kept[page] {
				kept[page] = true // held for the life of the process
				continue
			}
			spare = append(spare, p)
		}
		for _, p := range spare {
			libc.Xfree(tls, p)
		}
	}
}
