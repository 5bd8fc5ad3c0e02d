package store

import (
	"modernc.org/libc"
	"modernc.org/libc/sys/types"
)

// The pure-Go SQLite allocates from modernc.org/memory, which maps a 64 KiB page per size class
// and unmaps it the moment its last block is freed. Statement journals, temporary b-trees and
// page buffers are allocated and freed by every statement, so each statement mapped and
// unmapped pages: a third of an import's CPU time went to mmap/munmap. Keeping pages of each
// shared size class mapped for the life of the process (one block held on each) keeps that
// churn inside them. Two pages per class took importing sales rows from 29,800 to 43,600
// rows/s; a Stripe payment's statements churn more than two pages' worth, and 32 per class
// took BenchmarkApplyStripeEvent from about 3,900 to 4,900 events/s. The pages are address
// space (32 × 11 classes × 64 KiB = 22 MiB); only what SQLite actually uses becomes resident.
func init() {
	const pagesPerClass = 32
	const pageMask = 1<<16 - 1 // modernc.org/memory's page size is 64 KiB
	tls := libc.NewTLS()
	defer tls.Close()
	for class := 16; class <= 16<<10; class <<= 1 { // 16 KiB is its largest shared class
		kept := map[uintptr]bool{}
		var spare []uintptr
		for len(kept) < pagesPerClass {
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
