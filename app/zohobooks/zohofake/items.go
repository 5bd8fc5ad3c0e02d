package zohofake

import (
	"net/http"
	"strings"
)

// listItems: GET /items with the sku and name filters (exact).
func (s *Server) listItems(r *http.Request, _ []string, _ []byte) result {
	q := r.URL.Query()
	list := []map[string]any{}
	for _, it := range s.items {
		if v := q.Get("sku"); v != "" && v != it.SKU {
			continue
		}
		if v := q.Get("name"); v != "" && v != it.Name {
			continue
		}
		list = append(list, itemJSON(it))
	}
	return ok(http.StatusOK, "success", "items", list, "page_context", pageContext())
}

// createItem: POST /items. name and rate are required, names are unique.
func (s *Server) createItem(r *http.Request, _ []string, body []byte) result {
	var in struct {
		Name        string   `json:"name"`
		SKU         string   `json:"sku"`
		Rate        *float64 `json:"rate"`
		Description string   `json:"description"`
		ProductType string   `json:"product_type"`
	}
	if res, good := decodeBody(r, body, &in); !good {
		return res
	}
	if strings.TrimSpace(in.Name) == "" {
		return invalid("name")
	}
	if in.Rate == nil || *in.Rate < 0 {
		return invalid("rate")
	}
	switch in.ProductType {
	case "", "goods", "service", "digital_service":
	default:
		return invalid("product_type")
	}
	for _, it := range s.items {
		if strings.EqualFold(it.Name, in.Name) {
			return fail(http.StatusBadRequest, CodeItemExists, "The item %q already exists.", in.Name)
		}
	}
	it := &Item{
		ItemID:      s.nextID(),
		Name:        in.Name,
		SKU:         in.SKU,
		Description: in.Description,
		ProductType: in.ProductType,
		Rate:        money(*in.Rate),
	}
	if it.ProductType == "" {
		it.ProductType = "goods"
	}
	s.items = append(s.items, it)
	return ok(http.StatusCreated, "The item has been added.", "item", itemJSON(it))
}

func itemJSON(it *Item) map[string]any {
	return map[string]any{
		"item_id":      it.ItemID,
		"name":         it.Name,
		"sku":          it.SKU,
		"rate":         it.Rate,
		"description":  it.Description,
		"product_type": it.ProductType,
		"status":       "active",
	}
}
