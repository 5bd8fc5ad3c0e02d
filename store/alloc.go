package store

import (
	"sync"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
)

// pinAllocatorPages keeps some pages of each of modernc.org/memory's size classes mapped for the
// life of the process (one block held on each); it runs once, on the first Open. That allocator
// unmaps a 64 KiB page the moment its last block is freed, and SQLite allocates and frees
// journal chunks, page images and bound values in every statement, so statements kept mapping
// and unmapping pages. Two pages a class took a sales import from 29,800 to 43,600 rows/s; the
// page-sized classes (4–16 KiB, only 4 to 16 blocks a page) need 32 under concurrent webhooks
// (BenchmarkStripeWebhook 2,600–3,600 → 4,300–5,100 events/s). Cost: `serve --demo` is resident
// in 31 MiB, against 29 MiB with two pages a class.
func pinAllocatorPages() { pinOnce.Do(pinPages) }

var pinOnce sync.Once

func pinPages() {
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
