package zohobooks

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Item is a Zoho Books item. The items API is not in the OpenAPI files;
// this is the documented Books v3 shape.
type Item struct {
	ItemID      string  `json:"item_id,omitempty"`
	Name        string  `json:"name"`
	SKU         string  `json:"sku,omitempty"`
	Rate        float64 `json:"rate"`
	Description string  `json:"description,omitempty"`
	// ProductType is "goods", "service" or "digital_service".
	ProductType string `json:"product_type,omitempty"`
	Status      string `json:"status,omitempty"`
}

// FindItemBySKU returns the item with this SKU, or nil, nil.
func (c *Client) FindItemBySKU(ctx context.Context, sku string) (*Item, error) {
	if strings.TrimSpace(sku) == "" {
		return nil, errors.New("zohobooks: find item: empty SKU")
	}
	var resp struct {
		Items []Item `json:"items"`
	}
	if err := c.call(ctx, "GET", "/items", url.Values{"sku": {sku}}, nil, &resp); err != nil {
		return nil, fmt.Errorf("zohobooks: find item by SKU %q: %w", sku, err)
	}
	for i := range resp.Items {
		if it := &resp.Items[i]; it.SKU == "" || it.SKU == sku {
			return it, nil
		}
	}
	return nil, nil
}

// CreateItem creates an item; ProductType defaults to "goods".
func (c *Client) CreateItem(ctx context.Context, item Item) (*Item, error) {
	if strings.TrimSpace(item.Name) == "" {
		return nil, errors.New("zohobooks: create item: empty name")
	}
	item.ItemID, item.Status = "", ""
	if item.ProductType == "" {
		item.ProductType = "goods"
	}
	var resp struct {
		Item Item `json:"item"`
	}
	if err := c.call(ctx, "POST", "/items", nil, item, &resp); err != nil {
		return nil, fmt.Errorf("zohobooks: create item %q: %w", item.SKU, err)
	}
	if resp.Item.ItemID == "" {
		return nil, errors.New("zohobooks: create item: response has no item_id")
	}
	return &resp.Item, nil
}
